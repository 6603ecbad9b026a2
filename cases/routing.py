from django.urls import path

from cases.consumers import MapConsumer, NotificationConsumer

websocket_urlpatterns = [
    path("ws/map/", MapConsumer.as_asgi()),
    path("ws/me/", NotificationConsumer.as_asgi()),
]
