from django.urls import path

from grid import api

urlpatterns = [
    path("territory/streets/", api.streets, name="api-streets"),
    path("territory/communities/", api.communities, name="api-communities"),
    path("territory/cells/", api.cells, name="api-cells"),
    path("territory/locate/", api.locate_point, name="api-locate"),
]
