from django.urls import path

from diary import api

urlpatterns = [
    path("diary/", api.entries, name="api-diary"),
    path("diary/mine/", api.mine, name="api-diary-mine"),
    path("diary/<int:pk>/photos/<int:photo_pk>/", api.photo, name="api-diary-photo"),
]
