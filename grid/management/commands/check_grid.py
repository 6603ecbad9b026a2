from django.core.management.base import BaseCommand, CommandError

from grid.gridcheck import check_grid


class Command(BaseCommand):
    help = "Report overlaps, gaps, cells outside their community and bad codes (exit 1 if any)."

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
            raise CommandError(f"{len(problems)} problem(s) found.", returncode=1)
        self.stdout.write("No problems found.")
