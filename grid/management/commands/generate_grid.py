from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.generators import GridGenerationError, generate_grid
from grid.models import Community


class Command(BaseCommand):
    help = (
        "Cover a community with grid cells clipped to its boundary, coded west→east, "
        "north→south. All or nothing; refuses a community that has cells unless --replace."
    )

    def add_arguments(self, parser):
        parser.add_argument("community", help="12-digit community code")
        parser.add_argument("--cell-area", type=float, help="target cell area in m²")
        parser.add_argument("--households", type=int, help="households in the community")
        parser.add_argument("--households-per-cell", type=int, help="target households per cell")
        parser.add_argument("--replace", action="store_true", help="replace existing cells")

    def handle(
        self, *args, community, cell_area, households, households_per_cell, replace, **options
    ):
        try:
            target = Community.objects.get(code=community)
        except Community.DoesNotExist:
            raise CommandError(
                _("No community has the code %(code)s.") % {"code": community}
            ) from None
        if cell_area is None and households_per_cell is None:
            raise CommandError(_("Give --cell-area, or --households with --households-per-cell."))
        try:
            cells = generate_grid(
                target,
                cell_area_m2=cell_area,
                households=households,
                households_per_cell=households_per_cell,
                replace=replace,
            )
        except GridGenerationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            _("%(n)d cells for %(community)s: %(first)s … %(last)s")
            % {
                "n": len(cells),
                "community": target,
                "first": cells[0].code,
                "last": cells[-1].code,
            }
        )
