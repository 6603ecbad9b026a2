import unicodedata
from collections import OrderedDict

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from cases.demo import seed_demo_cases
from grid.demo.seed import DATA, DEMO_PASSWORD, existing_logins, seed, staffed_communities
from grid.models import District, Role

# Show a handful of each role, not all ~300 demo people.
SHOWN_PER_ROLE = 2
# Column widths of the login table (role, username, password, territory).
WIDTHS = (20, 15, 15, 0)


def available_districts() -> list[str]:
    return sorted(path.stem for path in DATA.glob("*.json"))


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def table_row(cells) -> str:
    """Left-aligned columns for a terminal, where a CJK character is two columns wide."""
    line = ""
    for text, width in zip(cells, WIDTHS, strict=True):
        used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))
        line += f"{text}" + " " * max(width - used, 1 if width else 0)
    return "  " + line.rstrip()


class Command(BaseCommand):
    help = "Load the demo district (武昌区): territory, grid, people in every role, cases."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but list the logins) when a district exists",
        )
        parser.add_argument(
            "--district",
            default="420106",
            metavar="CODE",
            help="the district extract in grid/demo/data/ to load (default 420106)",
        )
        parser.add_argument(
            "--communities",
            type=positive,
            default=None,
            metavar="N",
            help="at most this many communities per street (faster)",
        )
        parser.add_argument("--no-cases", action="store_true", help="territory and people only")

    def handle(
        self,
        *args,
        if_empty: bool,
        district: str,
        communities: int | None,
        no_cases: bool,
        **options,
    ):
        if district not in available_districts():
            raise CommandError(
                _("No demo data for district %(code)s; there is: %(codes)s.")
                % {"code": district, "codes": ", ".join(available_districts())}
            )
        # The check and the seed in one transaction: on SQLite it takes the write
        # lock at BEGIN, so two first starts at once cannot both seed.
        with transaction.atomic():
            if District.objects.exists():
                if not if_empty:
                    raise CommandError(
                        _(
                            "The database already holds territory; seed_demo would "
                            "duplicate it. Use --if-empty, or start from an empty database."
                        )
                    )
                self.stdout.write(_("Demo data already loaded; nothing to do."))
                logins = existing_logins()
            else:
                logins, rng = seed(district=district, communities_per_street=communities)
                if not no_cases:
                    for community in staffed_communities():
                        seed_demo_cases(community, rng)
                self.stdout.write(self.style.SUCCESS(_("Demo data loaded.")))
        self.print_logins(logins)

    def print_logins(self, logins) -> None:
        shown: OrderedDict[str, list] = OrderedDict()
        for login in logins:
            shown.setdefault(login.role, [])
            if len(shown[login.role]) < SHOWN_PER_ROLE:
                shown[login.role].append(login)
        self.stdout.write(
            "\n" + _("Demo logins (password for all: %(password)s):") % {"password": DEMO_PASSWORD}
        )
        header = (_("role"), _("username"), _("password"), _("territory"))
        self.stdout.write(table_row(header))
        for role_logins in shown.values():
            for login in role_logins:
                row = (str(Role(login.role).label), login.username, DEMO_PASSWORD, login.territory)
                self.stdout.write(table_row(row))
