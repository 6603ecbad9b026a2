from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve HTTP and WebSocket with daphne; with TIMERS=inprocess, run deadline timers too."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from project.asgi import application

        if settings.TIMERS == "inprocess":
            from cases.timers import start_in_process

            start_in_process()
        self.stdout.write(f"GridCase on http://{host}:{port}/ (timers: {settings.TIMERS})")
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
        ).run()
