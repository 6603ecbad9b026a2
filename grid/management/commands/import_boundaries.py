from django.core.management.base import BaseCommand, CommandError

from grid.importers import LEVELS, BoundaryImportError, import_boundaries


class Command(BaseCommand):
    help = (
        "Import district, street, community or cell boundaries from GeoJSON, Shapefile "
        "(.shp or .zip) or GeoPackage, in any CRS GDAL knows (EPSG:4490, 3857, 4326 …)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--level", required=True, choices=list(LEVELS))
        parser.add_argument("--parent", help="code of the parent unit")
        parser.add_argument("--code-field", help="attribute holding the code")
        parser.add_argument("--name-field", help="attribute holding the name")
        parser.add_argument(
            "--encoding", help="text encoding of a Shapefile without .cpg, e.g. cp936"
        )
        parser.add_argument("--layer", help="layer name (GeoPackage), default the first")

    def handle(
        self, *args, file, level, parent, code_field, name_field, encoding, layer, **options
    ):
        try:
            result = import_boundaries(
                file,
                level=level,
                parent_code=parent,
                code_field=code_field,
                name_field=name_field,
                encoding=encoding,
                layer_name=layer,
            )
        except BoundaryImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        )
        for code in result.repaired:
            self.stdout.write(f"repaired invalid geometry: {code}")
