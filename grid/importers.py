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
import ctypes
from collections import Counter
from collections.abc import Iterator
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


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: list[str] = field(default_factory=list)


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
) -> ImportResult:
    """Create or update the level's units from the file, or raise BoundaryImportError."""
    spec = _level(level)
    records = read(
        Path(path),
        level=level,
        code_field=code_field,
        name_field=name_field,
        encoding=encoding,
        layer_name=layer_name,
    )
    parents = _parents(records, spec, parent_code)
    with transaction.atomic():
        return _write(records, spec, parents)


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
) -> list[Record]:
    """Every feature of the file as a Record; raises with all refusals at once."""
    spec = _level(level)
    with _shape_encoding(encoding):
        source = _open(path)
        layer = _layer(source, layer_name)
        transform = _transform(source, layer, path)
        try:
            fields = _fields(layer.fields, spec, code_field, name_field)
            records, errors = _records(layer, fields, spec, transform)
        except UnicodeDecodeError:
            raise BoundaryImportError(
                _(
                    "The attributes are not UTF-8; give their encoding, "
                    "e.g. --encoding cp936 for GBK."
                )
            ) from None
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


def _transform(source: DataSource, layer, path: Path) -> CoordTransform | None:
    """How to bring the layer to WGS-84 (None when it already is); refuse unknown CRSs.

    CGCS2000 (EPSG:4490) has no published datum shift to WGS-84: the two
    agree to a few centimetres, and PROJ's ballpark transformation keeps the
    coordinates as they are, which is what we want.
    """
    srs = layer.srs
    if srs is None:
        if source.driver.name == "GeoJSON":
            return None  # GeoJSON without "crs" is WGS-84 by its specification (RFC 7946)
        raise BoundaryImportError(
            _("%(path)s has no coordinate reference system (a Shapefile needs its .prj).")
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


def _records(layer, fields: Fields, spec: Level, transform) -> tuple[list[Record], list[str]]:
    records, errors = [], []
    for index, feature in enumerate(layer, start=1):
        code = _code(feature.get(fields.code))
        label = _("feature %(i)d (%(code)s)") % {"i": index, "code": code or "?"}
        try:
            records.append(_record(index, code, feature, fields, spec, transform))
        except FeatureRefused as refused:
            errors.append(_("%(f)s: %(reason)s.") % {"f": label, "reason": refused})
    return records, errors


def _code(value) -> str:
    # A Shapefile may keep codes in a numeric (Real) field: 420106002009.0.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _record(index: int, code: str, feature, fields: Fields, spec: Level, transform) -> Record:
    length = spec.model.CODE_LENGTH
    if not (code.isdigit() and len(code) == length):
        raise FeatureRefused(
            _("the code %(code)r is not a %(n)d-digit %(level)s code")
            % {"code": code, "n": length, "level": spec.label}
        )
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


def _refusal(errors: list[str]) -> str:
    shown = errors[:MAX_REPORTED]
    more = len(errors) - len(shown)
    lines = [_("Nothing was imported:")] + [f"  - {e}" for e in shown]
    if more:
        lines.append(_("  … and %(n)d more.") % {"n": more})
    return "\n".join(lines)


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


def _write(records: list[Record], spec: Level, parents: dict[str, object]) -> ImportResult:
    model, parent_attr = spec.model, spec.parent_attr
    result = ImportResult(repaired=[r.code for r in records if r.repaired])
    existing = model.objects.in_bulk([r.code for r in records], field_name="code")
    for record in records:
        values = {"name": record.name, "boundary": record.boundary, **record.extra}
        if parent_attr:
            values[parent_attr] = parents[record.code]
        current = existing.get(record.code)
        if current is None:
            model.objects.create(code=record.code, **values)
            result.created += 1
        elif _same(current, values, parent_attr):
            result.unchanged += 1
        else:
            for name, value in values.items():
                setattr(current, name, value)
            current.save()
            result.updated += 1
    return result


def _same(current, values: dict, parent_attr: str | None) -> bool:
    for name, value in values.items():
        if name == "boundary":
            # Normalised first: a database may hand rings back starting elsewhere.
            stored = current.boundary.normalize(clone=True)
            if not stored.equals_exact(value.normalize(clone=True), SAME_GEOMETRY):
                return False
        elif name == parent_attr:
            if getattr(current, f"{name}_id") != value.pk:
                return False
        elif getattr(current, name) != value:
            return False
    return True
