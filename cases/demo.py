"""Demo cases in every state, made through the services as real people would.

Called by `manage.py seed_demo` after the territory and the demo users
exist. Each staffed community gets one case per state, at random points
inside one of its cells, so the map, the queues and the metrics all have
something to show.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point

from cases import services
from cases.models import Case, Category, ClosureReason, Satisfaction, Source
from grid.models import CellAssignment, Community, Department, GridCell, Post, Role, Street

User = get_user_model()

DESCRIPTIONS = {
    "0101": "楼上住户夜间噪音，邻里多次争吵",
    "0103": "业主与物业公司就停车费产生纠纷",
    "0201": "老旧小区楼顶漏水，影响三户居民",
    "0203": "小区绿地内违章搭建彩钢棚",
    "0303": "餐馆燃气管道老化，有泄漏气味",
    "0401": "楼道堆放大量杂物，堵塞消防通道",
    "0403": "夜间施工噪声扰民",
}


class Cast:
    """The demo people of one community and its street."""

    def __init__(self, street: Street):
        self.street = street
        posts = Post.objects.current().filter(street=street) | Post.objects.current().filter(
            community__street=street
        )
        self.by_role: dict[str, list] = {}
        for post in posts.select_related("user", "community"):
            self.by_role.setdefault(post.role, []).append(post)
        self.departments = list(
            Department.objects.filter(street=street)
            | Department.objects.filter(district=street.district)
        )

    def cell_with_two_workers(self, community, rng: random.Random):
        """A cell of the community covered by two grid workers, and those two."""
        cells = list(GridCell.objects.filter(community=community).order_by("code"))
        rng.shuffle(cells)
        for cell in cells:
            workers = list(
                User.objects.filter(
                    cell_assignments__in=CellAssignment.objects.current().filter(cell=cell)
                )
                .distinct()
                .order_by("pk")[:2]
            )
            if len(workers) == 2:
                return cell, workers
        return None

    def first(self, role: str, **match):
        for post in self.by_role.get(role, []):
            if all(getattr(post, k) == v for k, v in match.items()):
                return post.user
        return None


def _point_in(cell: GridCell, rng: random.Random) -> tuple[float, float]:
    """A random point inside the cell (its interior point if sampling is unlucky)."""
    x0, y0, x1, y1 = cell.boundary.extent
    for _ in range(50):
        point = Point(rng.uniform(x0, x1), rng.uniform(y0, y1), srid=4326)
        if cell.boundary.contains(point):
            return point.x, point.y
    point = cell.boundary.point_on_surface
    return point.x, point.y


def seed_demo_cases(community: Community, rng: random.Random | None = None) -> list[Case]:
    """One case in every state in this community; returns them.

    Needs the community's dispatcher, a cell with two grid workers and the
    street's coordinator; returns [] for a community without them.
    """
    rng = rng or random.Random(community.pk)
    street = community.street
    cast = Cast(street)
    team = cast.cell_with_two_workers(community, rng)
    coordinator = cast.first(Role.COORDINATOR)
    dispatcher = cast.first(Role.DISPATCHER, community=community)
    if team is None or coordinator is None or dispatcher is None:
        return []
    cell, (worker, worker2) = team
    mediator = cast.first(Role.MEDIATOR, community=community)
    street_mediator = cast.first(Role.MEDIATOR, street=street)
    department = next((d for d in cast.departments), None)
    handlers = {
        d.pk: p.user
        for d in cast.departments
        for p in Post.objects.current().filter(role=Role.HANDLER, department=d)
    }

    def new(code: str, **kw) -> Case:
        return services.case_report(
            actor=worker,
            category=Category.objects.get(code=code),
            description=DESCRIPTIONS.get(code, "网格巡查发现问题"),
            location=_point_in(cell, rng),
            source=Source.GRID_WORKER,
            **kw,
        ).case

    def n(case: Case) -> str:
        return case.number

    made: list[Case] = []

    def triage(code: str, route: str) -> Case:
        case = new(code)
        services.case_triage(actor=dispatcher, number=n(case), route=route)
        return case

    made.append(new("0401"))  # triage
    made.append(triage("0401", "onsite"))  # onsite
    if mediator:
        made.append(triage("0101", "mediation"))  # mediation
    made.append(triage("0201", "street_dispatch"))  # street dispatch
    hazard = new("0303", major_hazard=True, urgency="emergency")  # straight to the street
    made.append(hazard)
    if department and department.pk in handlers:
        case = triage("0203", "street_dispatch")
        services.case_dispatch(actor=coordinator, number=n(case), department=department)
        made.append(case)  # department
    if mediator and street_mediator:
        case = triage("0103", "mediation")
        services.case_mediate(actor=mediator, number=n(case), success=False, note="双方分歧较大")
        made.append(case)  # street mediation
    case = triage("0401", "onsite")
    services.case_handle(actor=worker, number=n(case), result="已组织清理")
    made.append(case)  # verify
    case = triage("0403", "onsite")
    services.case_handle(actor=worker, number=n(case), result="已劝导施工方停工")
    services.case_verify(actor=worker2, number=n(case), passed=True)
    made.append(case)  # return visit
    case = triage("0401", "onsite")
    services.case_handle(actor=worker, number=n(case), result="已清理完毕")
    services.case_verify(actor=worker2, number=n(case), passed=True)
    services.case_return_visit(
        actor=dispatcher,
        number=n(case),
        satisfaction=rng.choice([Satisfaction.SATISFIED, Satisfaction.BASIC]),
        words="处理及时",
    )
    made.append(case)  # closed
    case = new("0401")
    services.case_reject(
        actor=dispatcher,
        number=n(case),
        reason=ClosureReason.DUPLICATE,
        duplicate_of=made[0].number,
    )
    made.append(case)  # rejected (merged)
    # One overdue case, so the map shows red: move its clock back, then sweep.
    late = made[1]
    started = late.reported_at - timedelta(days=10)
    Case.objects.filter(pk=late.pk).update(
        reported_at=started,
        step_started=started,
        step_warn_at=started + timedelta(days=6),
        step_due=started + timedelta(days=8),
        deadline_check_at=started + timedelta(days=6),
    )
    services.deadline_sweep()
    return [Case.objects.get(pk=c.pk) for c in made]
