from django.urls import path

from cases import residents

app_name = "resident"
urlpatterns = [
    path("", residents.lookup, name="lookup"),
    path("<str:token>/", residents.follow, name="case"),
    path("<str:token>/photos/<int:pk>", residents.photo, name="photo"),
]
