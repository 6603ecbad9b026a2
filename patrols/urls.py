from django.urls import path

from patrols import views

urlpatterns = [
    path("map/patrols.json", views.map_patrols, name="map-patrols"),
    path("patrols/workers/", views.workers, name="patrol-workers"),
]
