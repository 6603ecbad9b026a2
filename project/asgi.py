"""ASGI entry point: HTTP through Django, WebSockets through channels."""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view run in one thread hop.

    Every middleware and view of ours is synchronous, and viewflow appends two
    sync-only middlewares at the end of MIDDLEWARE. Django's handler then hops
    from the event loop to the request's thread for the chain, back to the
    loop before the view, and to the thread again for the view: three hand-offs,
    each waiting for the GIL behind the other requests. Here the chain and the
    view run as under WSGI, in one call on the request's thread (the thread
    every thread-sensitive call of this request uses, so request_finished
    returns this thread's database connection to the pool). An async view would
    still work, run through async_to_sync, but none exists. docs/benchmarks.md
    has the measurements.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


# Django must be set up before anything imports models (consumers do).
django.setup(set_prefix=False)
django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
