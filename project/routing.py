"""WebSocket routes of every app, gathered for project.asgi."""

websocket_urlpatterns: list = []
