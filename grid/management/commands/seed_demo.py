from collections import OrderedDict

from django.core.management.base import BaseCommand, CommandError

from grid.demo.seed import DEMO_PASSWORD, existing_logins, seed
from grid.models import District, Role

# Show a handful of each role, not all ~200 demo people.
SHOWN_PER_ROLE = 2


class Command(BaseCommand):
    help = "Load the demo district (武昌区): territory, grid, people in every role, cases."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but list the logins) when a district exists",
        )
        parser.add_argument(
            "--communities",
            type=int,
            default=None,
            help="at most this many communities per street (faster)",
        )
        parser.add_argument("--no-cases", action="store_true", help="territory and people only")

    def handle(self, *args, if_empty: bool, communities: int | None, no_cases: bool, **options):
        if District.objects.exists():
            if not if_empty:
                raise CommandError(
                    "The database already holds territory; seed_demo would "
                    "duplicate it. Use --if-empty, or start from an empty database."
                )
            self.stdout.write("Demo data already loaded.")
            self.print_logins(existing_logins())
            return
        logins = seed(communities_per_street=communities, with_cases=not no_cases)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.print_logins(logins)

    def print_logins(self, logins) -> None:
        shown: OrderedDict[str, list] = OrderedDict()
        for login in logins:
            shown.setdefault(login.role, [])
            if len(shown[login.role]) < SHOWN_PER_ROLE:
                shown[login.role].append(login)
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for role_logins in shown.values():
            for login in role_logins:
                label = str(Role(login.role).label)
                self.stdout.write(f"  {label:<12}\t{login.username:<14} {login.territory}")
