from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.gridcheck import check_grid


class Command(BaseCommand):
    help = (
        "For a district, street or community (default: everything), report with their "
        "areas and codes: units overlapping their siblings or sticking out of their parent "
        "(beyond 0.5 % of their area), gaps between sibling units inside their parent, "
        "communities without cells, cells overlapping cells of the same or another "
        "community, gaps in a community's cells, cells outside their community and bad "
        "cell codes; exit 1 if any."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", nargs="?", help="district, street or community code")

    def handle(self, *args, code, **options):
        try:
            problems = check_grid(code)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for problem in problems:
            self.stdout.write(f"{problem.kind}: {problem.message}")
        if problems:
            raise CommandError(_("%(n)d problem(s) found.") % {"n": len(problems)}, returncode=1)
        self.stdout.write(_("No problems found."))
