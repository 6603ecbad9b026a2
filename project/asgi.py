"""ASGI entry point: HTTP through Django's own handler, WebSockets through channels.

Served by gunicorn with uvicorn workers (project/gunicorn.conf.py), which
imports this module in each worker process and, with TIMERS=inprocess,
starts the deadline sweeper there (not here: tests import this module too).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django is set up here, before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Import every view now and keep what start-up built (models, URL patterns,
# translations: alive as long as the worker) out of the garbage collector's
# full passes, which would otherwise walk it while a request waits.
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
