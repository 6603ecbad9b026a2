from django.urls import path

from patrols import api

urlpatterns = [
    path("patrols/", api.patrols, name="api-patrols"),
    path("patrols/setup/", api.setup, name="api-patrols-setup"),
    path("patrols/mine/", api.mine, name="api-patrols-mine"),
]
