from django.urls import path

from cases import open311

urlpatterns = [
    path("discovery.<str:fmt>", open311.discovery, name="open311-discovery"),
    path("services.<str:fmt>", open311.service_list, name="open311-services"),
    path("services/<str:code>.<str:fmt>", open311.service_definition, name="open311-service"),
    path("requests.<str:fmt>", open311.requests_, name="open311-requests"),
    path("requests/<str:number>.<str:fmt>", open311.request_detail, name="open311-request"),
    path("media/<int:pk>", open311.public_photo, name="open311-media"),
]
