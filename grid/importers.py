"""Import boundaries (GeoJSON, Shapefile, zipped Shapefile, GeoPackage) through GDAL.

An import is all-or-nothing: every feature is read, reprojected to WGS-84,
repaired where GEOS can and checked against its level and parent first; any
refusal writes nothing and names the features and reasons. Importing the
same file again changes nothing.

Axis order: Django builds every SpatialReference with GDAL's
OAMS_TRADITIONAL_GIS_ORDER, so EPSG:4326 and EPSG:4490 (CGCS2000) are read
and written as longitude, latitude and projected CRSs such as CGCS2000
Gauss-Krüger (EPSG:4547, northing first by the book) as easting, northing —
the order the files hold. The tests pin this with a known point per CRS.
"""

from __future__ import annotations

import codecs
import csv
import ctypes
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import CoordTransform, DataSource, GDALException, SpatialReference
from django.contrib.gis.gdal.error import SRSException
from django.contrib.gis.gdal.libgdal import lgdal
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon
from django.db import models, transaction
from django.utils.translation import gettext as _

from grid.geometry import polygonal
from grid.models import Community, District, GridCell, Street
from grid.replacement import (
    Replacement,
    ReplacementRefused,
    apply_replacement,
    boundary_problems,
)


@dataclass(frozen=True)
class Level:
    model: type[models.Model]
    parent_model: type[models.Model] | None = None
    parent_attr: str | None = None

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)


LEVELS = {
    "district": Level(District),
    "street": Level(Street, District, "district"),
    "community": Level(Community, Street, "street"),
    "cell": Level(GridCell, Community, "community"),
}
DRIVERS = ("GeoJSON", "ESRI Shapefile", "GPKG")
# Tried in order, case-insensitively, when --code-field/--name-field are not given.
CODE_FIELDS = ("code", "编码", "代码", "区划代码", "adcode", "XZQDM", "DM")
NAME_FIELDS = ("name", "名称", "name_cn", "name_zh", "XZQMC", "MC")
COUNT_FIELDS = {
    "households": ("households", "户数", "HH"),
    "population": ("population", "pop", "人口"),
}
# Geometries equal within this many degrees (~1 mm) count as unchanged.
SAME_GEOMETRY = 1e-8
MAX_REPORTED = 20
# Features between two progress reports (a district of 5,000 cells reports ten times).
PROGRESS_EVERY = 500

# progress(stage, done, total): "read" while features are read, "write" while saved.
Progress = Callable[[str, int, int], None]


class BoundaryImportError(ValueError):
    """The file is refused; the message says which features and why."""


class FeatureRefused(ValueError):
    """One feature cannot be imported; the message is the reason."""


@dataclass
class Record:
    index: int
    code: str
    name: str
    boundary: MultiPolygon
    extra: dict = field(default_factory=dict)
    repaired: bool = False
    # The file's own code when the unit is given one of ours (renumbered or mapped).
    external_code: str = ""


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (file's code, our code) of every renumbered or mapped unit.
    recoded: list[tuple[str, str]] = field(default_factory=list)
    replacement: Replacement = field(default_factory=Replacement)
    dry_run: bool = False
    changed: list[str] = field(default_factory=list)  # codes created or updated


@dataclass(frozen=True)
class Fields:
    """Which attribute of the file holds what."""

    code: str
    name: str
    counts: dict[str, str]


def import_boundaries(
    path: Path | str,
    *,
    level: str,
    parent_code: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    encoding: str | None = None,
    layer_name: str | None = None,
    srid: int | None = None,
    renumber: bool = False,
    code_map: dict[str, str] | None = None,
    replace: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update the level's units from the file, or raise BoundaryImportError.

    `renumber` places every feature under `parent_code` with a code of ours
    (north→south, west→east after the parent's highest); `code_map` gives
    each file code ours. Either way the file's code is kept as external_code.
    Boundaries that overlap their siblings, leave their parent or leave cells
    outside them are refused unless `replace`: then the imported boundaries
    win and the neighbours and cells are clipped to make room, and whatever
    is told of replaced boundaries (the cases app re-locates open cases) runs
    in the same transaction. `dry_run` does all of it and rolls it back.
    """
    spec = _level(level)
    if renumber and code_map:
        raise BoundaryImportError(_("Give either --renumber or --code-map, not both."))
    if renumber and not parent_code:
        raise BoundaryImportError(_("--renumber needs --parent: the unit to number under."))
    if renumber and spec.parent_model is None:
        raise BoundaryImportError(
            _("Districts keep their GB/T 2260 codes; they are not renumbered.")
        )
    path = Path(path)
    _check_encoding(path, encoding)
    warnings: list[str] = []
    records = read(
        path,
        level=level,
        code_field=code_field,
        name_field=name_field,
        encoding=encoding,
        layer_name=layer_name,
        srid=srid,
        recoded=renumber or bool(code_map),
        progress=progress,
        warnings=warnings,
    )
    with transaction.atomic():
        if renumber:
            _renumber(records, spec, parent_code)
        elif code_map:
            _map_codes(records, spec, code_map)
        _check_codes(records, spec)
        parents = _parents(records, spec, parent_code)
        previous = _previous_boundaries(records, spec)
        result = _write(records, spec, parents, progress)
        result.warnings = warnings
        result.recoded = [(r.external_code, r.code) for r in records if r.external_code]
        result.replacement = _fit(spec, result.changed, previous, replace)
        if dry_run:
            result.dry_run = True
            transaction.set_rollback(True)
    return result


def _fit(
    spec: Level, changed: list[str], previous: dict[str, MultiPolygon], replace: bool
) -> Replacement:
    """Make room for the written units if they replace the old boundaries; refuse what
    they would still break. Only what the file changed is checked: an unchanged unit
    is the territory as it was."""
    imported = list(_with_parent(spec).filter(code__in=changed))
    try:
        replacement = apply_replacement(spec.model, imported, previous, replace=replace)
    except ReplacementRefused as exc:
        raise BoundaryImportError(_refusal([str(exc)])) from None
    problems = boundary_problems(spec.model, imported)
    if problems:
        hint = "" if replace else _("Use --replace if these boundaries replace the old ones.")
        raise BoundaryImportError(_refusal([p.message for p in problems], hint))
    return replacement


def load_code_map(path: Path | str) -> dict[str, str]:
    """A two-column CSV (UTF-8): the file's code, then ours; a header row is allowed."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and any(c.strip() for c in row)]
    except OSError as exc:
        raise BoundaryImportError(_("Cannot read the code map: %(e)s") % {"e": exc}) from None
    except UnicodeDecodeError:
        raise BoundaryImportError(_("The code map must be a UTF-8 CSV file.")) from None
    if rows and not rows[0][-1].strip().isdigit():
        rows = rows[1:]  # the header
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        if len(row) != 2:
            raise BoundaryImportError(
                _("Line %(n)d of the code map does not have two columns.") % {"n": number}
            )
        mapping[_code(row[0])] = _code(row[1])
    if not mapping:
        raise BoundaryImportError(_("The code map is empty."))
    return mapping


def _level(level: str) -> Level:
    if level not in LEVELS:
        raise BoundaryImportError(
            _("The level must be one of: %(levels)s.") % {"levels": ", ".join(LEVELS)}
        )
    return LEVELS[level]


def read(
    path: Path,
    *,
    level: str,
    code_field: str | None = None,
    name_field: str | None = None,
    encoding: str | None = None,
    layer_name: str | None = None,
    srid: int | None = None,
    recoded: bool = False,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
) -> list[Record]:
    """Every feature of the file as a Record; raises with all refusals at once.

    With `recoded` the file's codes are only references (any non-empty text):
    the caller gives the units codes of ours. Doubtful names are appended to
    `warnings`.
    """
    spec = _level(level)
    with _shape_encoding(encoding):
        source = _open(path)
        layer = _layer(source, layer_name)
        transform = _transform(source, layer, path, srid)
        # Names GDAL recoded from a declared encoding must encode back to it.
        recoded_from = encoding if source.driver.name == "ESRI Shapefile" else None
        reader = Reader(spec, transform, recoded, recoded_from, progress, len(layer))
        try:
            fields = _fields(layer.fields, spec, code_field, name_field)
            records, errors = reader.records(layer, fields)
        except UnicodeDecodeError:
            raise BoundaryImportError(
                _(
                    "The attributes are not UTF-8; give their encoding, "
                    "e.g. --encoding cp936 for GBK."
                )
            ) from None
    if warnings is not None:
        warnings += reader.warnings
    if not records and not errors:
        errors.append(_("The file holds no features."))
    repeated = Counter(r.code for r in records)
    errors += [
        _("The code %(code)s appears more than once.") % {"code": code}
        for code, n in sorted(repeated.items())
        if n > 1
    ]
    if errors:
        raise BoundaryImportError(_refusal(errors))
    return records


def _declared_encoding(path: Path) -> str | None:
    """The encoding a Shapefile's .cpg declares (None without one), as Python names it."""
    text = None
    if path.suffix.lower() == ".shp":
        cpg = path.with_suffix(".cpg")
        if cpg.exists():
            text = cpg.read_text(encoding="ascii", errors="replace")
    elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".cpg")]
            if len(names) == 1:
                text = archive.read(names[0]).decode("ascii", errors="replace")
    if not text or not text.strip():
        return None
    declared = text.strip().split()[-1]  # "UTF-8", "GBK", "936", "ANSI 936"
    if declared.isdigit():  # a Windows code page number
        declared = "utf-8" if declared == "65001" else f"cp{declared}"
    try:
        return codecs.lookup(declared).name
    except LookupError:
        return None


def _check_encoding(path: Path, encoding: str | None) -> None:
    """Refuse an --encoding that contradicts the file's .cpg: GDAL would obey the option
    and turn good names into mojibake."""
    if not encoding:
        return
    try:
        given = codecs.lookup(encoding).name
    except LookupError:
        raise BoundaryImportError(_("Unknown encoding %(e)s.") % {"e": encoding}) from None
    declared = _declared_encoding(path)
    if declared and declared != given:
        raise BoundaryImportError(
            _(
                "%(path)s declares its encoding as %(declared)s (its .cpg), but --encoding "
                "says %(given)s; the names would be garbled. Leave out --encoding."
            )
            % {"path": path.name, "declared": declared, "given": given}
        )


@contextmanager
def _shape_encoding(encoding: str | None) -> Iterator[None]:
    """Have GDAL recode Shapefile strings from `encoding` to UTF-8.

    Chinese Shapefiles are often GBK with no .cpg, and GDAL then passes the
    bytes through undecoded. SHAPE_ENCODING only concerns the Shapefile
    driver, so GeoJSON and GeoPackage (UTF-8 by definition) stay correct if
    someone passes --encoding for them too. Thread-local, as a web process
    may import while other threads read.
    """
    if not encoding:
        yield
        return
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise BoundaryImportError(_("Unknown encoding %(e)s.") % {"e": encoding}) from None
    setter = lgdal.CPLSetThreadLocalConfigOption
    setter.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setter.restype = None
    setter(b"SHAPE_ENCODING", encoding.encode("ascii"))
    try:
        yield
    finally:
        setter(b"SHAPE_ENCODING", None)


def _open(path: Path) -> DataSource:
    if not path.exists():
        raise BoundaryImportError(_("%(path)s does not exist.") % {"path": path})
    # A zipped Shapefile is read in place through GDAL's virtual file system.
    name = f"/vsizip/{path.resolve()}" if path.suffix.lower() == ".zip" else str(path)
    not_geo = _("%(path)s is not a GeoJSON, Shapefile or GeoPackage file GDAL can read.") % {
        "path": path.name
    }
    try:
        source = DataSource(name)
    except GDALException:
        raise BoundaryImportError(not_geo) from None
    # GDAL also opens CSV, plain text and more as tables without geometry.
    if source.driver.name not in DRIVERS or not source.layer_count:
        raise BoundaryImportError(not_geo)
    return source


def _layer(source: DataSource, layer_name: str | None):
    """The named layer, or the only one: with several, guessing could import the wrong one."""
    names = [layer.name for layer in source]
    if layer_name:
        if layer_name not in names:
            raise BoundaryImportError(
                _("No layer %(l)s in the file; its layers are: %(names)s.")
                % {"l": layer_name, "names": ", ".join(names)}
            )
        return source[layer_name]
    if len(names) > 1:
        raise BoundaryImportError(
            _("The file has %(n)d layers (%(names)s); choose one with --layer.")
            % {"n": len(names), "names": ", ".join(names)}
        )
    return source[0]


def _transform(
    source: DataSource, layer, path: Path, srid: int | None = None
) -> CoordTransform | None:
    """How to bring the layer to WGS-84 (None when it already is); refuse unknown CRSs.

    `srid` (--srid) says what a file without a CRS is in; it may not contradict one
    the file declares.

    CGCS2000 (EPSG:4490) has no published datum shift to WGS-84: the two
    agree to a few centimetres, and PROJ's ballpark transformation keeps the
    coordinates as they are, which is what we want.
    """
    srs = layer.srs
    if srid is not None:
        srs = _given_srs(srs, srid, path)
    if srs is None:
        if source.driver.name == "GeoJSON":
            return None  # GeoJSON without "crs" is WGS-84 by its specification (RFC 7946)
        raise BoundaryImportError(
            _(
                "%(path)s has no coordinate reference system (a Shapefile needs its .prj); "
                "if you know it, give it with --srid, e.g. --srid 4490 for CGCS2000."
            )
            % {"path": path.name}
        )
    unknown = _("The coordinate reference system of %(path)s is unknown: %(srs)s") % {
        "path": path.name,
        "srs": srs.name or "?",
    }
    if not (srs.geographic or srs.projected):
        raise BoundaryImportError(unknown)  # e.g. a local site grid: no way to the earth
    if srs.srid == 4326:
        return None
    try:
        return CoordTransform(srs, SpatialReference(4326))
    except (GDALException, SRSException, TypeError):
        raise BoundaryImportError(unknown) from None


def _given_srs(declared: SpatialReference | None, srid: int, path: Path) -> SpatialReference:
    if declared is not None:
        if declared.srid != srid:
            raise BoundaryImportError(
                _("%(path)s declares its coordinate reference system (%(srs)s); leave out --srid.")
                % {"path": path.name, "srs": declared.name or "?"}
            )
        return declared
    try:
        return SpatialReference(srid)
    except (GDALException, SRSException):
        raise BoundaryImportError(
            _("No coordinate reference system has the SRID %(srid)s.") % {"srid": srid}
        ) from None


def _fields(available: list[str], spec: Level, code: str | None, name: str | None) -> Fields:
    counts = {}
    if spec.model is GridCell:
        for attr, names in COUNT_FIELDS.items():
            found = _find(available, names)
            if found:
                counts[attr] = found
    return Fields(
        code=_field(available, CODE_FIELDS, code, "--code-field"),
        name=_field(available, NAME_FIELDS, name, "--name-field"),
        counts=counts,
    )


def _field(available: list[str], names: tuple[str, ...], explicit: str | None, option: str) -> str:
    if explicit:
        if explicit not in available:
            raise BoundaryImportError(
                _("There is no field %(field)s; the fields are: %(fields)s.")
                % {"field": explicit, "fields": ", ".join(available)}
            )
        return explicit
    found = _find(available, names)
    if found is None:
        raise BoundaryImportError(
            _("None of the fields %(fields)s is one of %(names)s; name it with %(option)s.")
            % {"fields": ", ".join(available), "names": ", ".join(names), "option": option}
        )
    return found


def _find(available: list[str], names: tuple[str, ...]) -> str | None:
    by_lower = {a.lower(): a for a in available}
    for name in names:
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    return None


class Reader:
    """Reads a layer's features into Records, collecting refusals and warnings."""

    def __init__(
        self,
        spec: Level,
        transform: CoordTransform | None,
        recoded: bool,
        recoded_from: str | None,
        progress: Progress | None,
        total: int,
    ):
        self.spec, self.transform, self.recoded = spec, transform, recoded
        self.recoded_from, self.progress, self.total = recoded_from, progress, total
        self.warnings: list[str] = []

    def records(self, layer, fields: Fields) -> tuple[list[Record], list[str]]:
        records, errors = [], []
        for index, feature in enumerate(layer, start=1):
            code = _code(feature.get(fields.code))
            label = _("feature %(i)d (%(code)s)") % {"i": index, "code": code or "?"}
            try:
                record = _record(
                    index, code, feature, fields, self.spec, self.transform, self.recoded
                )
                self._check_name(record, label)
                records.append(record)
            except FeatureRefused as refused:
                errors.append(_("%(f)s: %(reason)s.") % {"f": label, "reason": refused})
            if self.progress and (index % PROGRESS_EVERY == 0 or index == self.total):
                self.progress("read", index, self.total)
        return records, errors

    def _check_name(self, record: Record, label: str) -> None:
        name = record.name
        if "\ufffd" in name:
            raise FeatureRefused(_("its name %(name)r has undecodable characters") % {"name": name})
        if self.recoded_from:
            self._check_round_trip(name, self.recoded_from)
        if "?" in name:
            # A conversion that could not write a character leaves a "?" in its place.
            self.warnings.append(
                _(
                    '%(f)s: the name %(name)r has "?" in it, perhaps characters lost in a '
                    "conversion of the file; check it."
                )
                % {"f": label, "name": name}
            )

    @staticmethod
    def _check_round_trip(name: str, encoding: str) -> None:
        """The name must encode back to the bytes it was read from; and bytes that are
        UTF-8 were written as UTF-8 (GBK text almost never is), not in `encoding`."""
        try:
            raw = name.encode(encoding)
        except UnicodeEncodeError:
            raise FeatureRefused(
                _("its name %(name)r does not read back as %(encoding)s")
                % {"name": name, "encoding": encoding}
            ) from None
        if codecs.lookup(encoding).name == "utf-8" or raw.isascii():
            return
        try:
            as_utf8 = raw.decode("utf-8")
        except UnicodeDecodeError:
            return
        raise FeatureRefused(
            _("its name reads %(utf8)r in UTF-8: the file looks UTF-8; leave out --encoding")
            % {"utf8": as_utf8}
        )


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _code(value) -> str:
    # A Shapefile may keep codes in a numeric (Real) field: 420106002009.0.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _record(
    index: int, code: str, feature, fields: Fields, spec: Level, transform, recoded: bool = False
) -> Record:
    if recoded:
        if not code:
            raise FeatureRefused(_("it has no code"))
    elif not _valid_code(code, spec):
        raise FeatureRefused(_bad_code(code, spec))
    name = str(feature.get(fields.name) or "").strip()
    if not name:
        raise FeatureRefused(_("it has no name"))
    max_length = spec.model._meta.get_field("name").max_length
    if len(name) > max_length:
        raise FeatureRefused(_("its name is longer than %(n)d characters") % {"n": max_length})
    extra = {}
    for attr, field_name in fields.counts.items():
        value = _count(feature.get(field_name), field_name)
        if value is not None:
            extra[attr] = value
    boundary, repaired = _boundary(feature, transform)
    return Record(index, code, name, boundary, extra, repaired)


def _valid_code(code: str, spec: Level) -> bool:
    return code.isdigit() and len(code) == spec.model.CODE_LENGTH


def _bad_code(code: str, spec: Level) -> str:
    return _("the code %(code)r is not a %(n)d-digit %(level)s code") % {
        "code": code,
        "n": spec.model.CODE_LENGTH,
        "level": spec.label,
    }


def _count(value, field_name: str) -> int | None:
    """A households or population figure; None (left as it is) when the cell is blank."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if number < 0 or not number.is_integer():
        raise FeatureRefused(
            _("%(field)s must be a whole number of 0 or more, not %(value)r")
            % {"field": field_name, "value": value}
        )
    return int(number)


def _boundary(feature, transform: CoordTransform | None) -> tuple[MultiPolygon, bool]:
    """The feature's boundary in WGS-84 and whether it was repaired; FeatureRefused if not."""
    try:
        ogr = feature.geom
    except GDALException:
        raise FeatureRefused(_("it has no geometry")) from None  # null or empty in the file
    ogr.set_3d(False)  # the columns are 2-D; heights and measures mean nothing here
    ogr.set_measured(False)
    kind = ogr.geom_type.name
    if kind not in ("Polygon", "MultiPolygon"):
        raise FeatureRefused(_("it is a %(type)s, not a polygon") % {"type": kind})
    if ogr.empty:
        raise FeatureRefused(_("its geometry is empty"))
    if transform is not None:
        try:
            ogr.transform(transform)
        except GDALException as exc:
            raise FeatureRefused(_("it cannot be reprojected (%(e)s)") % {"e": exc}) from None
    try:
        geometry = GEOSGeometry(ogr.wkb, srid=4326)
    except (GEOSException, ValueError):
        raise FeatureRefused(_("its geometry cannot be read")) from None
    x0, y0, x1, y1 = geometry.extent
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise FeatureRefused(
            _("its coordinates are not longitude and latitude; is the file's CRS right?")
        )
    return _repaired(geometry)


def _repaired(geometry: GEOSGeometry) -> tuple[MultiPolygon, bool]:
    repaired = False
    if not geometry.valid:
        reason = geometry.valid_reason
        fixed = polygonal(geometry.make_valid())
        if fixed is None or not fixed.valid:
            raise FeatureRefused(
                _("its geometry is invalid and cannot be repaired (%(r)s)") % {"r": reason}
            )
        geometry, repaired = fixed, True
    boundary = polygonal(geometry)
    if boundary is None:
        raise FeatureRefused(_("its geometry has no area"))
    boundary.srid = 4326
    return boundary, repaired


def _refusal(errors: list[str], hint: str = "") -> str:
    shown = errors[:MAX_REPORTED]
    more = len(errors) - len(shown)
    lines = [_("Nothing was imported:")] + [f"  - {e}" for e in shown]
    if more:
        lines.append(_("  … and %(n)d more.") % {"n": more})
    if hint:
        lines.append(hint)
    return "\n".join(lines)


def _renumber(records: list[Record], spec: Level, parent_code: str) -> None:
    """Codes of ours under `parent_code`: a unit imported before under the same file code
    keeps its code; new ones follow the parent's highest, north→south, west→east."""
    model, parent = spec.model, spec.parent_model
    if not parent.objects.filter(code=parent_code).exists():
        raise BoundaryImportError(
            _("No %(level)s has the code %(code)s.")
            % {"level": parent._meta.verbose_name, "code": parent_code}
        )
    under = model.objects.filter(code__startswith=parent_code)
    known = dict(under.exclude(external_code="").values_list("external_code", "code"))
    taken = [int(code[len(parent_code) :]) for code in under.values_list("code", flat=True)]
    last = max(taken, default=0)
    new = [r for r in records if r.code not in known]
    new.sort(key=_reading_order)
    for record in records:
        record.external_code = record.code
        if record.code in known:
            record.code = known[record.code]
    for record in new:
        last += 1
        if last > 999:
            raise BoundaryImportError(
                _("%(parent)s has no free numbers left for %(n)d new units.")
                % {"parent": parent_code, "n": len(new)}
            )
        record.code = f"{parent_code}{last:03d}"


def _reading_order(record: Record) -> tuple[float, float]:
    # Rows of about 100 m, north to south, then west to east: how cells are numbered.
    centre = record.boundary.point_on_surface
    return (-round(centre.y, 3), centre.x)


def _map_codes(records: list[Record], spec: Level, code_map: dict[str, str]) -> None:
    missing = [r for r in records if r.code not in code_map]
    if missing:
        raise BoundaryImportError(
            _refusal(
                [
                    _("feature %(i)d (%(code)s) is not in the code map.")
                    % {"i": r.index, "code": r.code}
                    for r in missing
                ]
            )
        )
    for record in records:
        record.external_code, record.code = record.code, code_map[record.code]
    repeated = Counter(r.code for r in records)
    twice = [code for code, n in sorted(repeated.items()) if n > 1]
    if twice:
        raise BoundaryImportError(
            _refusal([_("The code map gives %(code)s twice.") % {"code": c} for c in twice])
        )


def _check_codes(records: list[Record], spec: Level) -> None:
    errors = [
        _("feature %(i)d (%(code)s): %(reason)s.")
        % {"i": r.index, "code": r.external_code or r.code, "reason": _bad_code(r.code, spec)}
        for r in records
        if not _valid_code(r.code, spec)
    ]
    if errors:
        raise BoundaryImportError(_refusal(errors))


def _parents(records: list[Record], spec: Level, parent_code: str | None) -> dict[str, object]:
    """Each record's parent unit, from --parent or the code's prefix; refuse unknown ones."""
    parent_model = spec.parent_model
    if parent_model is None:
        if parent_code:
            raise BoundaryImportError(_("A district has no parent; leave out --parent."))
        return {}
    level = parent_model._meta.verbose_name
    if parent_code and not parent_model.objects.filter(code=parent_code).exists():
        raise BoundaryImportError(
            _("No %(level)s has the code %(code)s.") % {"level": level, "code": parent_code}
        )
    length = parent_model.CODE_LENGTH
    known = parent_model.objects.in_bulk({r.code[:length] for r in records}, field_name="code")
    parents, errors = {}, []
    for record in records:
        prefix = record.code[:length]
        if parent_code and prefix != parent_code:
            errors.append(
                _("feature %(i)d (%(code)s) is not under %(parent)s.")
                % {"i": record.index, "code": record.code, "parent": parent_code}
            )
        elif prefix not in known:
            errors.append(
                _("feature %(i)d (%(code)s): no %(level)s %(prefix)s to put it in.")
                % {"i": record.index, "code": record.code, "prefix": prefix, "level": level}
            )
        else:
            parents[record.code] = known[prefix]
    if errors:
        raise BoundaryImportError(_refusal(errors))
    return parents


def _with_parent(spec: Level):
    qs = spec.model.objects.all()
    return qs.select_related(spec.parent_attr) if spec.parent_attr else qs


def _previous_boundaries(records: list[Record], spec: Level) -> dict[str, MultiPolygon]:
    """The stored boundaries the file changes, by code: where units may have moved."""
    existing = spec.model.objects.in_bulk([r.code for r in records], field_name="code")
    previous = {}
    for record in records:
        current = existing.get(record.code)
        if current is not None and not _same_shape(current.boundary, record.boundary):
            previous[record.code] = current.boundary
    return previous


def _same_shape(stored: MultiPolygon, new: MultiPolygon) -> bool:
    # Normalised first: a database may hand rings back starting elsewhere.
    return stored.normalize(clone=True).equals_exact(new.normalize(clone=True), SAME_GEOMETRY)


def _write(
    records: list[Record], spec: Level, parents: dict[str, object], progress: Progress | None
) -> ImportResult:
    model, parent_attr = spec.model, spec.parent_attr
    result = ImportResult(repaired=[r.code for r in records if r.repaired])
    existing = model.objects.in_bulk([r.code for r in records], field_name="code")
    for done, record in enumerate(records, start=1):
        if progress and (done % PROGRESS_EVERY == 0 or done == len(records)):
            progress("write", done, len(records))
        values = {"name": record.name, "boundary": record.boundary, **record.extra}
        if record.external_code:
            values["external_code"] = record.external_code
        if parent_attr:
            values[parent_attr] = parents[record.code]
        current = existing.get(record.code)
        if current is None:
            model.objects.create(code=record.code, **values)
            result.created += 1
            result.changed.append(record.code)
        elif _same(current, values, parent_attr):
            result.unchanged += 1
        else:
            for name, value in values.items():
                setattr(current, name, value)
            current.save()
            result.updated += 1
            result.changed.append(record.code)
    return result


def _same(current, values: dict, parent_attr: str | None) -> bool:
    for name, value in values.items():
        if name == "boundary":
            if not _same_shape(current.boundary, value):
                return False
        elif name == parent_attr:
            if getattr(current, f"{name}_id") != value.pk:
                return False
        elif getattr(current, name) != value:
            return False
    return True
