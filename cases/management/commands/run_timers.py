import signal
import threading

from django.core.management.base import BaseCommand

from cases.timers import recover_exports, run_forever, send_outbox, sweep


class Command(BaseCommand):
    help = (
        "Run the deadline-timer sweeper (which also starts over exports whose worker died) "
        "until stopped, or once with --once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="sweep and send the outbox once, and exit"
        )
        parser.add_argument("--interval", type=float, default=None, help="seconds between sweeps")

    def handle(self, *args, once: bool, interval: float | None, **options):
        if once:
            recover_exports()
            fired = sweep()
            self.stdout.write(f"sent {send_outbox()}")
            self.stdout.write(f"fired {fired}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_forever(stop, interval)
