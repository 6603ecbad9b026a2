import argparse

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from grid.importers import LEVELS, BoundaryImportError, import_boundaries, load_code_map

HELP = """\
Import district, street, community or cell boundaries from GeoJSON, Shapefile
(.shp or .zip) or GeoPackage, in any CRS GDAL knows (EPSG:4490, 3857, 4326 …).
All or nothing; importing the same file again changes nothing.

Codes. By default each feature's code must already be ours (GB/T 2260 plus
3 digits per level) and its prefix names its parent; --parent only checks it.
A supplier's file with codes of its own (an old district's 420102002xxx, say):
  --parent CODE --renumber   put every feature under CODE and number it after
                             CODE's highest child, north→south, west→east;
                             a feature imported before under the same file
                             code keeps the number it got then
  --code-map map.csv         give each file code ours: a UTF-8 CSV of two
                             columns, the file's code then ours (a header is
                             allowed); a feature not in the map is refused
Either way the file's code is kept on the unit as its external code.

Encoding. A Shapefile's .cpg says how its names are written; --encoding (for
a file without one, e.g. cp936 for GBK) is refused when it contradicts the
.cpg. Names that do not read back in their encoding are refused; names with
a literal "?" (characters lost in an earlier conversion) are imported with a
warning.

CRS. A file without one (a Shapefile without .prj) is refused unless --srid
says what it is; --srid may not contradict a CRS the file declares.

Checks. Boundaries that overlap their sibling units, stick out of their
parent, open a gap between siblings, leave a community's cells outside it or
overlap cells of another community are refused, with the areas and codes.
--replace says the file replaces the old boundaries: the neighbours and
their cells are clipped to make room, and open cases whose point now lies in
another cell or community are re-located, each with a timeline entry.
--dry-run does all of that, reports it, and writes nothing.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the layout
        return parser

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--level", required=True, choices=list(LEVELS))
        parser.add_argument(
            "--parent", help="code of the parent unit; by default each code's own prefix"
        )
        parser.add_argument(
            "--renumber", action="store_true", help="number the features under --parent"
        )
        parser.add_argument("--code-map", help="CSV of the file's codes and ours")
        parser.add_argument("--code-field", help="attribute holding the code")
        parser.add_argument("--name-field", help="attribute holding the name")
        parser.add_argument(
            "--encoding",
            help="text encoding of a Shapefile without .cpg, e.g. cp936 for GBK",
        )
        parser.add_argument("--srid", type=int, help="EPSG code of a file without a CRS")
        parser.add_argument("--layer", help="layer name, needed when the file has several")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="the file replaces the old boundaries: clip neighbours, re-locate cases",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; write nothing"
        )

    def handle(self, *args, file, level, parent, code_map, **options):
        try:
            result = import_boundaries(
                file,
                level=level,
                parent_code=parent,
                code_field=options["code_field"],
                name_field=options["name_field"],
                encoding=options["encoding"],
                layer_name=options["layer"],
                srid=options["srid"],
                renumber=options["renumber"],
                code_map=load_code_map(code_map) if code_map else None,
                replace=options["replace"],
                dry_run=options["dry_run"],
                progress=self._progress,
            )
        except BoundaryImportError as exc:
            raise CommandError(str(exc)) from None
        self._report(result)

    def _progress(self, stage: str, done: int, total: int) -> None:
        text = {
            "read": _("read %(done)d of %(total)d features"),
            "write": _("saved %(done)d of %(total)d"),
        }
        self.stderr.write(text[stage] % {"done": done, "total": total})

    def _report(self, result) -> None:
        for warning in result.warnings:
            self.stderr.write(_("Warning: %(w)s") % {"w": warning})
        for code in result.repaired:
            self.stdout.write(_("Repaired an invalid geometry: %(code)s") % {"code": code})
        for external, code in result.recoded:
            self.stdout.write(_("%(external)s → %(code)s") % {"external": external, "code": code})
        replacement = result.replacement
        if replacement.clipped:
            self.stdout.write(_("Clipped: %(codes)s") % {"codes": ", ".join(replacement.clipped)})
        if replacement.deleted:
            self.stdout.write(
                _("Cells left with no area, deleted: %(codes)s")
                % {"codes": ", ".join(replacement.deleted)}
            )
        if replacement.relocated:
            self.stdout.write(
                _("%(n)d open case(s) re-located") % {"n": len(replacement.relocated)}
            )
        counts = _("%(created)d created, %(updated)d updated, %(unchanged)d unchanged") % {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }
        if result.dry_run:
            counts = _("Dry run, nothing written: %(counts)s") % {"counts": counts}
        self.stdout.write(counts)
