"""WebSocket routes of every app, gathered for project.asgi."""

from cases.routing import websocket_urlpatterns as case_routes

websocket_urlpatterns = [*case_routes]
