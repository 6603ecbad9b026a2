"""Find overlaps, gaps, cells outside their community and bad codes.

Areas are computed in the database: geometries are transformed to the UTM
zone of their community (metres) and measured there, so SpatiaLite and
PostGIS give the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.db.models import Union
from django.contrib.gis.db.models.functions import Area, Difference, Intersection, Transform
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from grid.geometry import utm_srid
from grid.models import Community, GridCell

# Differences below this many square metres are rounding along shared borders.
TOLERANCE_M2 = 1.0


@dataclass(frozen=True)
class Problem:
    kind: str  # overlap | gap | outside | code
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
    if code and not communities:
        raise ValueError(
            _("No district, street or community has the code %(code)s.") % {"code": code}
        )
    problems: list[Problem] = []
    for community in communities:
        problems += _community_problems(community)
    problems += _code_problems(communities)
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
