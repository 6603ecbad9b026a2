"""The leadership desk: a unit's figures for a month or a week, and its monthly report.

Who may watch which unit: street leaders and coordinators their street,
district administrators their district, superusers the city and each
district (the supervisors of cases.loop.SUPERVISORS, by unit). Every figure
comes from cases.metrics, the code /api/v1/metrics/ answers from, over the
cases the viewer may see (services.visible_cases) within the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from cases import metrics, queues, services
from cases.models import Case, Category, State
from grid.models import District, Role
from grid.territory import Territory

# How many of each list the page shows; the counts above them are whole.
HOT_SPOTS = 10
LISTED = 50
TREND_LENGTH = 12
PERIOD_KINDS = {"month": gettext_lazy("Month"), "week": gettext_lazy("Week")}


@dataclass(frozen=True)
class Scope:
    """A unit a person may watch: the city, a district or a street."""

    kind: str  # "city", "district" or "street"
    pk: int | None
    name: str

    @property
    def key(self) -> str:
        return self.kind if self.pk is None else f"{self.kind}:{self.pk}"

    @property
    def group(self) -> str:
        """The metrics group whose units make up this scope."""
        return "street" if self.kind == "street" else "district"

    def cases(self, user, territory: Territory) -> QuerySet[Case]:
        visible = services.visible_cases(user, territory)
        if self.kind == "street":
            return visible.filter(street_id=self.pk)
        if self.kind == "district":
            return visible.filter(street__district_id=self.pk)
        return visible


def scopes(territory: Territory) -> list[Scope]:
    """The units this person supervises, widest first; none: not for them."""
    if territory.everything:
        districts = District.objects.order_by("code").only("name")
        return [Scope("city", None, _("The whole city"))] + [
            Scope("district", d.pk, d.name) for d in districts
        ]
    found: dict[str, Scope] = {}
    for post in territory.posts:
        if post.role == Role.ADMINISTRATOR and post.district_id:
            scope = Scope("district", post.district_id, post.district.name)
        elif post.role in (Role.LEADER, Role.COORDINATOR) and post.street_id:
            scope = Scope("street", post.street_id, post.street.name)
        else:
            continue
        found.setdefault(scope.key, scope)
    return sorted(found.values(), key=lambda s: (s.kind != "district", s.name))


def may_watch(territory: Territory) -> bool:
    """Does this person supervise any unit (the desk header's link), without a query?"""
    return territory.everything or any(
        (p.role == Role.ADMINISTRATOR and p.district_id)
        or (p.role in (Role.LEADER, Role.COORDINATOR) and p.street_id)
        for p in territory.posts
    )


@dataclass(frozen=True)
class Period:
    """A local calendar month or week (from Monday), as the metrics' trend buckets are."""

    kind: str
    first: date

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind == "week":
            return cls(kind, day - timedelta(days=day.weekday()))
        return cls(kind, day.replace(day=1))

    def shifted(self, n: int) -> Period:
        if self.kind == "week":
            return Period(self.kind, self.first + timedelta(weeks=n))
        months = self.first.year * 12 + self.first.month - 1 + n
        return Period(self.kind, date(months // 12, months % 12 + 1, 1))

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return self.shifted(1).start

    @property
    def last(self) -> date:
        return self.shifted(1).first - timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind == "week":
            last = self.first + timedelta(days=6)
            return _("Week of %(first)s to %(last)s") % {
                "first": self.first.isoformat(),
                "last": last.isoformat(),
            }
        return _("%(year)d-%(month)02d") % {"year": self.first.year, "month": self.first.month}


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(settings.TIME_ZONE))


class BadRequest(Exception):
    pass


def _period(request: HttpRequest, *, kind: str | None = None) -> Period:
    kind = kind or request.GET.get("period") or "month"
    if kind not in PERIOD_KINDS:
        raise BadRequest(_("The period is a month or a week."))
    raw = request.GET.get("at")
    if not raw:
        return Period.containing(kind, timezone.localdate())
    try:
        day = date.fromisoformat(raw) if len(raw) > 7 else date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise BadRequest(_("Give the date as YYYY-MM-DD or the month as YYYY-MM.")) from None
    if not 2000 <= day.year <= 2100:
        raise BadRequest(_("Give the date as YYYY-MM-DD or the month as YYYY-MM."))
    return Period.containing(kind, day)


def _scope(request: HttpRequest, territory: Territory) -> tuple[Scope, list[Scope]]:
    """The unit asked for among those this person watches: 403 for nobody's, 404 for others'."""
    mine = scopes(territory)
    if not mine:
        raise PermissionDenied
    key = request.GET.get("unit")
    if not key:
        return mine[0], mine
    for scope in mine:
        if scope.key == key:
            return scope, mine
    raise Http404


def figures(cases: QuerySet[Case], scope: Scope, period: Period) -> dict:
    """Everything the desk and the report show, from cases.metrics only."""
    span = {"start": period.start, "end": period.end}
    units = metrics.metrics(cases, group=scope.group, **span)
    whole = next(iter(units.values())) if len(units) == 1 else metrics.combine(units)
    cells = metrics.unit_rows("cell", metrics.metrics(cases, group="cell", **span))
    trend_span = {"start": period.shifted(1 - TREND_LENGTH).start, "end": period.end}
    trend = metrics.metrics(cases, group=period.kind, **trend_span)
    overdue = queues.with_task(metrics.overdue_now(cases))
    return {
        "whole": whole,
        "communities": _ranked(
            metrics.unit_rows("community", metrics.metrics(cases, group="community", **span))
        ),
        # Cases at no department (most of them) are no department's record.
        "departments": _ranked(
            [
                row
                for row in metrics.unit_rows(
                    "department", metrics.metrics(cases, group="department", **span)
                )
                if row["code"] is not None
            ]
        ),
        "hot_spots": sorted(cells, key=lambda r: (-r["reported"], r["code"] or ""))[:HOT_SPOTS],
        "trend": sorted(metrics.unit_rows(period.kind, trend), key=lambda r: r["code"]),
        "categories": _categories(whole),
        "steps": _steps(whole),
        "overdue_count": overdue.count(),
        "overdue": list(overdue.select_related("category", "community", "street")[:LISTED]),
        "reopened": list(
            metrics.reopened(cases, **span).select_related("category", "community")[:LISTED]
        ),
    }


def _ranked(rows: list[dict]) -> list[dict]:
    """Best resolution rate first, then response and satisfaction; units without figures last."""

    def rank(row: dict) -> tuple:
        rates = [row["resolution_rate"], row["response_rate"], row["satisfaction_rate"]]
        return (*(-(r if r is not None else -1) for r in rates), -row["reported"])

    return sorted(rows, key=rank)


def _categories(whole: metrics.UnitMetrics) -> list[dict]:
    groups = {c.code: c for c in Category.objects.filter(parent__isnull=True)}
    return [
        {
            "code": code,
            "name": groups[code].display_name if code in groups else code,
            "count": n,
        }
        for code, n in sorted(whole.by_category.items(), key=lambda item: -item[1])
    ]


def _steps(whole: metrics.UnitMetrics) -> list[dict]:
    labels = dict(State.choices)
    return [
        {
            "step": step,
            "name": str(labels.get(step, step)),
            "hours": whole.hours_by_step[step],
            "count": whole.steps_done[step],
        }
        for step in State.values
        if step in whole.hours_by_step
    ]


def _chart_data(numbers: dict, scope: Scope, period: Period) -> dict:
    """What dashboard.js draws: the metrics rows as the API answers them, and labels."""
    return {
        "unit": scope.name,
        "period": period.label,
        "communities": numbers["communities"],
        "departments": numbers["departments"],
        "hot_spots": numbers["hot_spots"],
        "trend": numbers["trend"],
        "categories": numbers["categories"],
        "steps": numbers["steps"],
        "labels": {
            "response_rate": _("Response rate"),
            "resolution_rate": _("Resolution rate"),
            "satisfaction_rate": _("Satisfaction rate"),
            "overdue": _("Overdue"),
            "reported": _("Cases reported"),
            "closed": _("Closed"),
            "hours": _("Hours"),
            "cases": _("Cases"),
            "nothing": _("No cases in this period."),
        },
    }


def _context(request: HttpRequest, period: Period) -> dict:
    territory = Territory.for_user(request.user)
    scope, mine = _scope(request, territory)
    numbers = figures(scope.cases(request.user, territory), scope, period)
    return {
        "scope": scope,
        "scopes": mine,
        "period": period,
        "previous": period.shifted(-1),
        "next": period.shifted(1),
        "kinds": PERIOD_KINDS.items(),
        "numbers": numbers,
        "chart_data": _chart_data(numbers, scope, period),
        "generated": timezone.localtime(),
    }


@login_required
@require_GET
def desk(request: HttpRequest) -> HttpResponse:
    try:
        period = _period(request)
    except BadRequest as error:
        return HttpResponseBadRequest(str(error))
    return render(request, "frontend/dashboard.html", _context(request, period))


@login_required
@require_GET
def monthly_report(request: HttpRequest) -> HttpResponse:
    """The month's figures as a printable report (the browser's print makes the PDF)."""
    try:
        period = _period(request, kind="month")
    except BadRequest as error:
        return HttpResponseBadRequest(str(error))
    return render(request, "frontend/report.html", _context(request, period))
