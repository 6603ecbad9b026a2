"""Import boundaries (GeoJSON, Shapefile, zipped Shapefile, GeoPackage) through GDAL.

An import is all-or-nothing: every feature is read, reprojected to WGS-84,
repaired where GEOS can and checked against its level and parent first; any
refusal writes nothing and names the features and reasons. Importing the
same file again changes nothing.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.gis.gdal import (
    CoordTransform,
    DataSource,
    GDALException,
    SpatialReference,
)
from django.contrib.gis.gdal.error import SRSException
from django.contrib.gis.gdal.libgdal import lgdal
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction
from django.utils.translation import gettext as _

from grid.geometry import polygonal
from grid.models import Community, District, GridCell, Street

LEVELS = {
    "district": (District, None, None),
    "street": (Street, District, "district"),
    "community": (Community, Street, "street"),
    "cell": (GridCell, Community, "community"),
}
CODE_FIELDS = ("code", "CODE", "Code", "编码", "代码", "区划代码", "adcode", "ADCODE")
NAME_FIELDS = ("name", "NAME", "Name", "名称", "NAME_CN", "name_zh")
HOUSEHOLD_FIELDS = ("households", "HOUSEHOLDS", "户数")
POPULATION_FIELDS = ("population", "POPULATION", "POP", "人口")
# Geometries equal within this many degrees (~1 mm) count as unchanged.
SAME_GEOMETRY = 1e-8
MAX_REPORTED = 20


class BoundaryImportError(ValueError):
    """The file is refused; the message says which features and why."""


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


@contextmanager
def _shape_encoding(encoding: str | None):
    """With an explicit encoding, stop GDAL recoding Shapefile strings (it guesses
    ISO-8859-1 when there is no .cpg) so Django decodes the raw bytes as asked."""
    if not encoding:
        yield
        return
    setter = lgdal.CPLSetConfigOption
    setter.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setter(b"SHAPE_ENCODING", b"")
    try:
        yield
    finally:
        setter(b"SHAPE_ENCODING", None)


def _open(path: Path, encoding: str | None) -> DataSource:
    if not path.exists():
        raise BoundaryImportError(_("%(path)s does not exist.") % {"path": path})
    source = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        return DataSource(source, encoding=encoding or "utf-8")
    except GDALException:
        raise BoundaryImportError(
            _("%(path)s is not a GeoJSON, Shapefile or GeoPackage file GDAL can read.")
            % {"path": path.name}
        ) from None


def _transform(source: DataSource, layer, path: Path) -> CoordTransform | None:
    srs = layer.srs
    if srs is None:
        if source.driver.name == "GeoJSON":
            return None  # GeoJSON without "crs" is WGS-84 by its specification
        raise BoundaryImportError(
            _("%(path)s has no coordinate reference system (a Shapefile needs its .prj).")
            % {"path": path.name}
        )
    try:
        target = SpatialReference(4326)
        if srs.srid == 4326:
            return None
        return CoordTransform(srs, target)
    except (GDALException, SRSException, TypeError):
        raise BoundaryImportError(
            _("The coordinate reference system of %(path)s is unknown: %(srs)s")
            % {"path": path.name, "srs": (srs.name or "?")}
        ) from None


def _field(feature, names: tuple[str, ...], explicit: str | None):
    try:
        return _lookup(feature, names, explicit)
    except UnicodeDecodeError:
        raise BoundaryImportError(
            _("The attributes are not UTF-8; give their encoding, e.g. --encoding cp936 for GBK.")
        ) from None


def _lookup(feature, names: tuple[str, ...], explicit: str | None):
    available = feature.fields
    if explicit:
        if explicit not in available:
            raise BoundaryImportError(
                _("There is no field %(field)s; the fields are: %(fields)s.")
                % {"field": explicit, "fields": ", ".join(available)}
            )
        return feature.get(explicit)
    for name in names:
        if name in available:
            return feature.get(name)
    return None


def _geometry(feature, transform) -> tuple[MultiPolygon | None, bool, str]:
    """The feature's boundary in WGS-84, whether it was repaired, and why it was refused."""
    ogr = feature.geom
    if ogr is None:
        return None, False, _("it has no geometry")
    if transform is not None:
        try:
            ogr.transform(transform)
        except GDALException as exc:
            return None, False, _("it cannot be reprojected (%(e)s)") % {"e": exc}
    geometry = GEOSGeometry(ogr.wkb, srid=4326)
    if geometry.empty:
        return None, False, _("its geometry is empty")
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        return None, False, _("it is a %(type)s, not a polygon") % {"type": geometry.geom_type}
    repaired = False
    if not geometry.valid:
        reason = geometry.valid_reason
        fixed = polygonal(geometry.make_valid())
        if fixed is None or not fixed.valid:
            return (
                None,
                False,
                _("its geometry is invalid and cannot be repaired (%(r)s)") % {"r": reason},
            )
        geometry, repaired = fixed, True
    boundary = polygonal(geometry)
    if boundary is None:
        return None, False, _("its geometry has no area")
    boundary.srid = 4326
    return boundary, repaired, ""


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
    model = LEVELS[level][0]
    with _shape_encoding(encoding):
        source = _open(path, encoding)
        if layer_name:
            try:
                layer = source[layer_name]
            except (IndexError, KeyError, GDALException):
                raise BoundaryImportError(
                    _("No layer %(l)s in the file.") % {"l": layer_name}
                ) from None
        else:
            layer = source[0]
        transform = _transform(source, layer, path)
        records, errors = [], []
        for index, feature in enumerate(layer, start=1):
            code = str(_field(feature, CODE_FIELDS, code_field) or "").strip()
            name = str(_field(feature, NAME_FIELDS, name_field) or "").strip()
            label = _("feature %(i)d (%(code)s)") % {"i": index, "code": code or "?"}
            boundary, repaired, reason = _geometry(feature, transform)
            if not code.isdigit() or len(code) != model.CODE_LENGTH:
                errors.append(
                    _("%(f)s: the code %(code)r is not a %(n)d-digit %(level)s code.")
                    % {"f": label, "code": code, "n": model.CODE_LENGTH, "level": level}
                )
            elif not name:
                errors.append(_("%(f)s: it has no name.") % {"f": label})
            elif reason:
                errors.append(_("%(f)s: %(reason)s.") % {"f": label, "reason": reason})
            else:
                extra = {}
                if level == "cell":
                    extra = {
                        "households": int(_field(feature, HOUSEHOLD_FIELDS, None) or 0),
                        "population": int(_field(feature, POPULATION_FIELDS, None) or 0),
                    }
                records.append(Record(index, code, name, boundary, extra, repaired))
    if not records and not errors:
        errors.append(_("The file holds no features."))
    codes = [r.code for r in records]
    errors += [
        _("The code %(code)s appears more than once.") % {"code": c}
        for c in sorted({c for c in codes if codes.count(c) > 1})
    ]
    if errors:
        raise BoundaryImportError(_refusal(errors))
    return records


def _refusal(errors: list[str]) -> str:
    shown = errors[:MAX_REPORTED]
    more = len(errors) - len(shown)
    lines = [_("Nothing was imported:")] + [f"  - {e}" for e in shown]
    if more:
        lines.append(_("  … and %(n)d more.") % {"n": more})
    return "\n".join(lines)


def _parents(records: list[Record], level: str, parent_code: str | None) -> dict[str, object]:
    """Each record's parent unit, from --parent or the code's prefix; refuse unknown ones."""
    _model, parent_model, _attr = LEVELS[level]
    if parent_model is None:
        if parent_code:
            raise BoundaryImportError(_("A district has no parent; leave out --parent."))
        return {}
    parents = {}
    errors = []
    if parent_code:
        try:
            parent = parent_model.objects.get(code=parent_code)
        except parent_model.DoesNotExist:
            raise BoundaryImportError(
                _("No %(level)s has the code %(code)s.")
                % {"level": parent_model._meta.verbose_name, "code": parent_code}
            ) from None
    known = {
        p.code: p
        for p in parent_model.objects.filter(
            code__in={r.code[: parent_model.CODE_LENGTH] for r in records}
        )
    }
    for record in records:
        prefix = record.code[: parent_model.CODE_LENGTH]
        if parent_code and prefix != parent_code:
            errors.append(
                _("feature %(i)d (%(code)s) is not under %(parent)s.")
                % {"i": record.index, "code": record.code, "parent": parent_code}
            )
        elif prefix not in known:
            errors.append(
                _("feature %(i)d (%(code)s): no %(level)s %(prefix)s to put it in.")
                % {
                    "i": record.index,
                    "code": record.code,
                    "prefix": prefix,
                    "level": parent_model._meta.verbose_name,
                }
            )
        else:
            parents[record.code] = known[prefix] if not parent_code else parent
    if errors:
        raise BoundaryImportError(_refusal(errors))
    return parents


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
    if level not in LEVELS:
        raise BoundaryImportError(
            _("The level must be one of: %(levels)s.") % {"levels": ", ".join(LEVELS)}
        )
    path = Path(path)
    records = read(
        path,
        level=level,
        code_field=code_field,
        name_field=name_field,
        encoding=encoding,
        layer_name=layer_name,
    )
    parents = _parents(records, level, parent_code)
    model, _parent_model, parent_attr = LEVELS[level]
    result = ImportResult(repaired=[r.code for r in records if r.repaired])
    with transaction.atomic():
        existing = {a.code: a for a in model.objects.filter(code__in=[r.code for r in records])}
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
            if not current.boundary.equals_exact(value, SAME_GEOMETRY):
                return False
        elif name == parent_attr:
            if getattr(current, f"{name}_id") != value.pk:
                return False
        elif getattr(current, name) != value:
            return False
    return True
