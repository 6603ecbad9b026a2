from django.core.management.base import BaseCommand, CommandError

from grid.generators import GridGenerationError, generate_grid
from grid.models import Community


class Command(BaseCommand):
    help = "Cover a community with grid cells clipped to its boundary and code them."

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
            raise CommandError(f"No community has the code {community}.") from None
        if cell_area is None and households_per_cell is None:
            raise CommandError("Give --cell-area or --households with --households-per-cell.")
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
        self.stdout.write(f"{len(cells)} cells for {target}: {cells[0].code} … {cells[-1].code}")
