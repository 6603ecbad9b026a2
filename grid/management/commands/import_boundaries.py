from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.importers import LEVELS, BoundaryImportError, import_boundaries


class Command(BaseCommand):
    help = (
        "Import district, street, community or cell boundaries from GeoJSON, Shapefile "
        "(.shp or .zip) or GeoPackage, in any CRS GDAL knows (EPSG:4490, 3857, 4326 …). "
        "All or nothing; importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--level", required=True, choices=list(LEVELS))
        parser.add_argument(
            "--parent", help="code of the parent unit; by default each code's own prefix"
        )
        parser.add_argument("--code-field", help="attribute holding the code")
        parser.add_argument("--name-field", help="attribute holding the name")
        parser.add_argument(
            "--encoding", help="text encoding of a Shapefile without .cpg, e.g. cp936 for GBK"
        )
        parser.add_argument("--layer", help="layer name, needed when the file has several")

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
        for code in result.repaired:
            self.stdout.write(_("Repaired an invalid geometry: %(code)s") % {"code": code})
        self.stdout.write(
            _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged")
            % {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }
        )
