"""Find overlaps, gaps, units outside their parents, empty communities and bad codes.

Cells within a community are measured in the database: geometries are
transformed to the UTM zone of their community (metres) and measured there,
so SpatiaLite and PostGIS give the same answers. Units against their siblings
and parents (communities, streets, districts, and cells across communities)
are compared here with GEOS and measured in the same UTM zone, as the
import checks them (grid.replacement) before anything is written.

A gap between siblings is a hole in their union inside the parent: area
enclosed by communities that none of them covers. The band between the
outer communities and their street's edge is not one: a point there falls
back to the street (属地兜底).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.db.models import Union
from django.contrib.gis.db.models.functions import Area, Difference, Intersection, Transform
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from grid.geometry import utm_srid
from grid.models import Community, District, GridCell, Street

# Differences below this many square metres are rounding along shared borders.
TOLERANCE_M2 = 1.0
# Boundaries drawn by different hands never meet exactly: between units, an
# overlap, a part outside the parent or a gap counts only beyond this share
# of the (smaller) unit's area as well.
UNIT_SHARE = 0.005


@dataclass(frozen=True)
class Problem:
    kind: str  # overlap | gap | outside | empty | code
    codes: tuple[str, ...]
    area_m2: float | None
    message: str


def _m2(value) -> float:
    return float(getattr(value, "sq_m", value) or 0)


def communities_in(code: str | None):
    qs = Community.objects.all()
    if code:
        qs = qs.filter(Q(code=code) | Q(street__code=code) | Q(street__district__code=code))
    return qs.order_by("code")


def check_grid(code: str | None = None) -> list[Problem]:
    communities = list(communities_in(code))
    scope = _scope(code)
    if code and not scope:
        raise ValueError(
            _("No district, street or community has the code %(code)s.") % {"code": code}
        )
    problems: list[Problem] = []
    for unit in scope:
        problems += unit_problems(unit)
    for community in communities:
        problems += _community_problems(community)
    problems += cross_community_overlaps(communities)
    problems += _code_problems(communities)
    return problems


def _scope(code: str | None) -> list:
    """The units whose siblings, parent and children are checked: a district with its
    streets and communities, a street with its communities, or one community."""
    if code is None:
        districts = list(District.objects.order_by("code"))
        units: list = []
        for district in districts:
            units += _scope(district.code)
        return units
    for model in (District, Street, Community):
        unit = model.objects.filter(code=code).first()
        if unit is None:
            continue
        if model is District:
            streets = list(unit.streets.order_by("code"))
            return [unit] + [u for street in streets for u in _scope(street.code)]
        if model is Street:
            return [unit, *unit.communities.order_by("code")]
        return [unit]
    return []


def unit_problems(unit) -> list[Problem]:
    """A district, street or community: against its siblings and parent; a street's
    communities for gaps between them; a community for having no cells."""
    problems = overlaps_with_siblings(unit, later_only=True)
    if not isinstance(unit, District):
        problems += outside_parent(unit)
    if isinstance(unit, District):
        problems += gaps_between(unit, list(unit.streets.all()))
    elif isinstance(unit, Street):
        problems += gaps_between(unit, list(unit.communities.all()))
    else:
        problems += _empty(unit)
    return problems


# A square degree is at most this many square metres (at the equator).
MAX_M2_PER_DEGREE2 = 1.24e10


def area_m2(geometry: GEOSGeometry | None, srid: int) -> float:
    # Neighbours that only touch intersect in a line: no area, and no reprojection needed.
    if geometry is None or geometry.empty or geometry.area * MAX_M2_PER_DEGREE2 <= 1e-3:
        return 0.0
    return geometry.transform(srid, clone=True).area


def srid_of(geometry: GEOSGeometry) -> int:
    return utm_srid(*geometry.centroid.coords)


def significant(area: float, reference: float) -> bool:
    return area > TOLERANCE_M2 and area > UNIT_SHARE * reference


def siblings_of(unit):
    model = type(unit)
    qs = model.objects.exclude(pk=unit.pk)
    if isinstance(unit, Street):
        qs = qs.filter(district_id=unit.district_id)
    elif isinstance(unit, Community):
        qs = qs.filter(street_id=unit.street_id)
    return qs.filter(boundary__intersects=unit.boundary).order_by("code")


def overlaps_with_siblings(unit, *, later_only: bool = False, skip=frozenset()) -> list[Problem]:
    """Siblings overlapping `unit` beyond the tolerance (`later_only`: each pair once)."""
    problems = []
    srid = srid_of(unit.boundary)
    own = area_m2(unit.boundary, srid)
    for other in siblings_of(unit):
        if (later_only and other.code < unit.code) or other.code in skip:
            continue
        area = area_m2(unit.boundary.intersection(other.boundary), srid)
        theirs = area_m2(other.boundary, srid)
        if significant(area, min(own, theirs)):
            problems.append(
                Problem(
                    "overlap",
                    (unit.code, other.code),
                    area,
                    _(
                        "%(level)s %(a)s overlaps %(b)s by %(area).0f m² "
                        "(%(pa).0f %% of %(a)s, %(pb).0f %% of %(b)s)."
                    )
                    % {
                        "level": str(type(unit)._meta.verbose_name).capitalize(),
                        "a": unit.code,
                        "b": other.code,
                        "area": area,
                        "pa": 100 * area / own if own else 0,
                        "pb": 100 * area / theirs if theirs else 0,
                    },
                )
            )
    return problems


def outside_parent(unit) -> list[Problem]:
    parent = unit.parent
    srid = srid_of(unit.boundary)
    own = area_m2(unit.boundary, srid)
    area = area_m2(unit.boundary.difference(parent.boundary), srid)
    if not significant(area, own):
        return []
    return [
        Problem(
            "outside",
            (unit.code, parent.code),
            area,
            _("%(level)s %(code)s lies %(area).0f m² (%(pct).0f %%) outside %(parent)s %(pcode)s.")
            % {
                "level": str(type(unit)._meta.verbose_name).capitalize(),
                "code": unit.code,
                "area": area,
                "pct": 100 * area / own if own else 0,
                "parent": type(parent)._meta.verbose_name,
                "pcode": parent.code,
            },
        )
    ]


def gaps_between(parent, children: list, near=None) -> list[Problem]:
    """Holes in the union of `children` inside `parent` (`near`: only holes touching it)."""
    if len(children) < 2:
        return []
    union = MultiPolygon([p for c in children for p in c.boundary], srid=4326).unary_union
    polygons = [union] if isinstance(union, Polygon) else list(union)
    srid = srid_of(parent.boundary)
    problems = []
    for polygon in polygons:
        for ring in list(polygon)[1:]:
            hole = Polygon(ring, srid=4326).intersection(parent.boundary)
            if near is not None and not hole.buffer(1e-7).intersects(near):
                continue
            around = [c for c in children if c.boundary.intersects(hole.buffer(1e-7))]
            smallest = min((area_m2(c.boundary, srid) for c in around), default=0.0)
            area = area_m2(hole, srid)
            if significant(area, smallest):
                codes = tuple(sorted(c.code for c in around))
                problems.append(
                    Problem(
                        "gap",
                        (parent.code, *codes),
                        area,
                        _("%(area).0f m² inside %(parent)s between %(codes)s is in none of them.")
                        % {"area": area, "parent": parent.code, "codes": ", ".join(codes)},
                    )
                )
    return problems


def _empty(community: Community) -> list[Problem]:
    if community.cells.exists():
        return []
    return [
        Problem(
            "empty",
            (community.code,),
            None,
            _("Community %(code)s has no cells.") % {"code": community.code},
        )
    ]


def cross_community_overlaps(communities: list[Community]) -> list[Problem]:
    """Cells overlapping cells of another community (each pair once)."""
    problems, seen = [], set()
    for community in communities:
        neighbours = Community.objects.exclude(pk=community.pk).filter(
            boundary__intersects=community.boundary
        )
        mine = list(community.cells.all())
        theirs = list(GridCell.objects.filter(community__in=neighbours))
        if not (mine and theirs):
            continue
        problems += cell_overlaps(mine, theirs, seen)
    return problems


def cell_overlaps(cells: list[GridCell], others: list[GridCell], seen: set) -> list[Problem]:
    problems = []
    for cell in cells:
        srid = srid_of(cell.boundary)
        envelope = cell.boundary.envelope
        for other in others:
            pair = tuple(sorted((cell.code, other.code)))
            if other.pk == cell.pk or pair in seen or not envelope.intersects(other.boundary):
                continue
            area = area_m2(cell.boundary.intersection(other.boundary), srid)
            if area > TOLERANCE_M2:
                seen.add(pair)
                problems.append(
                    Problem(
                        "overlap",
                        pair,
                        area,
                        _("Cells %(a)s and %(b)s overlap by %(area).1f m².")
                        % {"a": pair[0], "b": pair[1], "area": area},
                    )
                )
    return problems


def _community_problems(community: Community) -> list[Problem]:
    srid = utm_srid(*community.boundary.centroid.coords)
    cells = GridCell.objects.filter(community=community)
    problems = []
    for cell in cells.order_by("code"):
        overlaps = (
            cells.filter(code__gt=cell.code, boundary__intersects=cell.boundary)
            .annotate(area=Area(Transform(Intersection("boundary", cell.boundary), srid)))
            .values_list("code", "area")
        )
        for other, area in overlaps:
            if _m2(area) > TOLERANCE_M2:
                problems.append(
                    Problem(
                        "overlap",
                        (cell.code, other),
                        _m2(area),
                        _("Cells %(a)s and %(b)s overlap by %(area).1f m².")
                        % {"a": cell.code, "b": other, "area": _m2(area)},
                    )
                )
    outside = cells.annotate(
        area=Area(Transform(Difference("boundary", community.boundary), srid))
    ).values_list("code", "area")
    for cell_code, area in outside:
        if _m2(area) > TOLERANCE_M2:
            problems.append(
                Problem(
                    "outside",
                    (cell_code, community.code),
                    _m2(area),
                    _("Cell %(cell)s lies %(area).1f m² outside community %(community)s.")
                    % {"cell": cell_code, "community": community.code, "area": _m2(area)},
                )
            )
    covered = cells.aggregate(union=Union("boundary"))["union"]
    if covered is not None:
        gap = (
            Community.objects.filter(pk=community.pk)
            .annotate(area=Area(Transform(Difference("boundary", covered), srid)))
            .values_list("area", flat=True)
            .get()
        )
        if _m2(gap) > TOLERANCE_M2:
            problems.append(
                Problem(
                    "gap",
                    (community.code,),
                    _m2(gap),
                    _("%(area).1f m² of community %(community)s is in no cell.")
                    % {"community": community.code, "area": _m2(gap)},
                )
            )
    return problems


def _code_problems(communities: list[Community]) -> list[Problem]:
    problems = []
    cells = GridCell.objects.filter(community__in=communities).select_related("community")
    for cell in cells:
        if len(cell.code) != 15 or not cell.code.isdigit():
            problems.append(
                Problem(
                    "code",
                    (cell.code,),
                    None,
                    _("Cell code %(code)s is not 15 digits.") % {"code": cell.code},
                )
            )
        elif not cell.code.startswith(cell.community.code):
            problems.append(
                Problem(
                    "code",
                    (cell.code, cell.community.code),
                    None,
                    _("Cell code %(code)s does not start with its community's code %(community)s.")
                    % {"code": cell.code, "community": cell.community.code},
                )
            )
    duplicates = (
        GridCell.objects.filter(community__in=communities)
        .values("code")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for row in duplicates:
        problems.append(
            Problem(
                "code", (row["code"],), None, _("Cell code %(code)s is used %(n)d times.") % row
            )
        )
    return problems
