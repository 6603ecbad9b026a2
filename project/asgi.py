"""ASGI entry point: HTTP through Django, WebSockets through channels."""

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
logger = logging.getLogger(__name__)


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler, with a request's synchronous work done in one thread hop.

    Every middleware and view of ours is synchronous, and viewflow appends two
    sync-only middlewares at the end of MIDDLEWARE. Django's handler hops from
    the event loop to the request's thread for request_started, for the
    middleware chain, back to the loop before the view, to the thread again
    for the view and once more for response.close() (request_finished): each
    hand-off waits for the GIL behind the other requests, and it watches for
    a disconnect in a second task that cannot stop a synchronous view anyway.
    Here all of it runs as under WSGI, in one call on the request's thread
    (the thread every thread-sensitive call of this request uses, so
    request_finished returns this thread's database connection to the pool),
    and the loop only reads the body and sends the answer. A response built
    in memory is closed before it is sent, so the connection is back in the
    pool sooner; a streamed one (files) is closed after its last chunk, as
    Django does. An async view would still work, run through async_to_sync,
    but none exists. docs/benchmarks.md has the measurements.
    """

    def __init__(self) -> None:
        super().__init__()
        self.threads = RequestThreads(keep=64)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        executor = self.threads.lend()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        except BaseException:
            # Cancelled (the client left) or failed: its thread may still be
            # busy with the view, so it is not lent again; it ends when done.
            executor.shutdown(wait=False)
            raise
        self.threads.give_back(executor)

    async def handle(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        # Cancelled while the view runs, the view may still read the body on its
        # thread: the file is left to request.close() there, not closed here.
        response = await sync_to_async(self.respond, thread_sensitive=True)(scope, body_file)
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:  # after its last chunk, or when sending failed
                await sync_to_async(response.close, thread_sensitive=True)()
        body_file.close()

    def respond(self, scope, body_file) -> HttpResponseBase:
        """request_started, the request, the middleware chain and the view: one call."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            try:
                response.close()  # request_finished, on this thread
            except Exception:
                # What the view did stands (a report committed): answer it all the
                # same, as Django does when closing fails after the answer went out.
                logger.exception("Closing the response to %s failed", scope.get("path"))
        return response


class RequestThreads:
    """Request threads kept for the next request, one request at a time each.

    Django's handler gives every request a new one-thread executor: starting
    its thread blocks the event loop until the thread runs (py-spy: 8 % of a
    worker's samples on the lookup), and asgiref joins it afterwards from yet
    another new thread. Here a request borrows an idle one-thread executor, so
    all its synchronous calls still run on one thread with no other request's
    meanwhile, and the thread then serves later requests, as under a threaded
    WSGI server (request_finished returns its database connection to the pool
    each time). Lent and given back on the event loop's thread only: no lock.
    """

    def __init__(self, keep: int):
        self.keep = keep
        self.free: list[ThreadPoolExecutor] = []

    def lend(self) -> ThreadPoolExecutor:
        if self.free:
            return self.free.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Keep an executor whose request is over (its thread idle) for the next."""
        if len(self.free) < self.keep:
            self.free.append(executor)
        else:  # a burst is over: let the extra threads end
            executor.shutdown(wait=False)


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
