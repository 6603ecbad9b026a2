"""The demo: 武昌区 with its real streets and communities, synthetic boundaries,
a generated grid, people in every role and (from cases.demo) cases in every state.

Every person shares one password, DEMO_PASSWORD. Street STAFFED_STREET is
fully staffed (dispatchers, mediators and two grid workers per cell); the
other streets have a coordinator and a leader.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from grid.demo.geometry import DISTRICT_BBOX, tile
from grid.generators import generate_grid
from grid.models import (
    CellAssignment,
    Community,
    Department,
    District,
    GridCell,
    Post,
    Role,
    Street,
)

DATA = Path(__file__).parent / "data"
DEMO_PASSWORD = "gridcase-demo"
STAFFED_STREET = "420106002"  # 杨园街道
HOUSEHOLDS_PER_CELL = 400
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"

User = get_user_model()


@dataclass
class Login:
    role: str
    username: str
    territory: str


def load(district: str = "420106") -> dict:
    return json.loads((DATA / f"{district}.json").read_text(encoding="utf-8"))


def _community_name(name: str) -> str:
    return name.removesuffix("居委会").removesuffix("村委会")


class Seeder:
    def __init__(self, data: dict, *, communities_per_street: int | None, rng: random.Random):
        self.data = data
        self.limit = communities_per_street
        self.rng = rng
        self.password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
        self.logins: list[Login] = []
        self.counter: dict[str, int] = {}

    def person(self, role: str, territory: str, prefix: str | None = None) -> User:
        prefix = prefix or role
        self.counter[prefix] = self.counter.get(prefix, 0) + 1
        username = f"{prefix}{self.counter[prefix]}"
        user = User.objects.create(
            username=username,
            password=self.password,
            # The whole Chinese name in first_name: get_full_name() would put a
            # separate surname last, the Western way.
            first_name=self.rng.choice(SURNAMES)
            + "".join(self.rng.choices(GIVEN, k=self.rng.choice([1, 2]))),
        )
        self.logins.append(Login(role, username, territory))
        return user

    def run(self) -> list[Login]:
        district = self.territory()
        admin = self.person("administrator", district.name, prefix="admin")
        admin.is_superuser = admin.is_staff = True
        admin.username = "admin"
        admin.save()
        self.logins[-1].username = "admin"
        Post.objects.create(user=admin, role=Role.ADMINISTRATOR, district=district)
        # The fully staffed street first, so its people are coordinator1, leader1 …
        streets = sorted(district.streets.all(), key=lambda s: (s.code != STAFFED_STREET, s.code))
        for street in streets:
            self.staff_street(street)
        return self.logins

    def territory(self) -> District:
        d = self.data["district"]
        streets = self.data["streets"]
        shapes = tile(DISTRICT_BBOX, len(streets), self.rng, jitter=0.1)
        union = shapes[0]
        for shape in shapes[1:]:
            union = union.union(shape)
        district = District.objects.create(code=d["code"], name=d["name"], boundary=_multi(union))
        for street_data, street_shape in zip(streets, shapes, strict=True):
            street = Street.objects.create(
                code=street_data["code"],
                name=street_data["name"],
                district=district,
                boundary=street_shape,
            )
            communities = street_data["communities"][: self.limit]
            community_shapes = tile(street_shape.extent, len(communities), self.rng)
            for community_data, shape in zip(communities, community_shapes, strict=True):
                community = Community.objects.create(
                    code=community_data["code"],
                    name=_community_name(community_data["name"]),
                    street=street,
                    boundary=shape,
                )
                households = self.rng.randint(2000, 3000)
                for cell in generate_grid(
                    community, households=households, households_per_cell=HOUSEHOLDS_PER_CELL
                ):
                    # Split by area, the cells along a community's edge would get
                    # too few households; a street office balances cells to 300–500.
                    cell_households = self.rng.randint(300, 500)
                    GridCell.objects.filter(pk=cell.pk).update(
                        households=cell_households,
                        population=round(cell_households * self.rng.uniform(2.5, 2.9)),
                    )
        return district

    def staff_street(self, street: Street) -> None:
        Post.objects.create(
            user=self.person("coordinator", street.name), role=Role.COORDINATOR, street=street
        )
        Post.objects.create(
            user=self.person("leader", street.name), role=Role.LEADER, street=street
        )
        if street.code != STAFFED_STREET:
            return
        Post.objects.create(
            user=self.person("mediator", mediation_centre(street), prefix="smediator"),
            role=Role.MEDIATOR,
            street=street,
        )
        for kind, name, at_street in (
            ("城管", "城管执法中队", True),
            ("房管", "房管所", True),
            ("安监", "区应急管理局", False),
            ("派出所", "派出所", True),
        ):
            department = Department.objects.create(
                name=f"{street.name}{name}" if at_street else name,
                kind=kind,
                street=street if at_street else None,
                district=None if at_street else street.district,
            )
            Post.objects.create(
                user=self.person("handler", department.name),
                role=Role.HANDLER,
                department=department,
            )
        for community in street.communities.order_by("code"):
            Post.objects.create(
                user=self.person("dispatcher", community.name),
                role=Role.DISPATCHER,
                community=community,
            )
            Post.objects.create(
                user=self.person("mediator", community.name),
                role=Role.MEDIATOR,
                community=community,
            )
            self.grid_workers(community)

    def grid_workers(self, community: Community) -> None:
        cells = list(community.cells.order_by("code"))
        for cell in cells:
            for _ in range(2):
                worker = self.person("grid_worker", cell.code, prefix="worker")
                Post.objects.create(user=worker, role=Role.GRID_WORKER, community=community)
                CellAssignment.objects.create(worker=worker, cell=cell)
        if len(cells) > 1:
            # One worker moved a month ago, so the assignment history shows a handover.
            moved = CellAssignment.objects.filter(cell=cells[-1]).first()
            month_ago = timezone.now() - timedelta(days=30)
            CellAssignment.objects.filter(pk=moved.pk).update(
                started=month_ago - timedelta(days=365)
            )
            CellAssignment.objects.filter(pk=moved.pk).update(ended=month_ago)
            CellAssignment.objects.create(worker=moved.worker, cell=cells[0], started=month_ago)


def mediation_centre(street: Street) -> str:
    return f"{street.name}调解中心"


def _multi(geometry):
    from grid.geometry import polygonal

    return polygonal(geometry)


@transaction.atomic
def seed(
    *,
    district: str = "420106",
    communities_per_street: int | None = None,
    seed_value: int = 2026,
) -> tuple[list[Login], random.Random]:
    """Territory, grid and people; the random source goes on to seed the cases."""
    rng = random.Random(seed_value)
    logins = Seeder(load(district), communities_per_street=communities_per_street, rng=rng).run()
    return logins, rng


def staffed_communities():
    """The communities of the street that has people in every role (where cases go)."""
    return Community.objects.filter(street__code=STAFFED_STREET).order_by("code")


def existing_logins() -> list[Login]:
    """The demo logins already in the database (for a second `make run`).

    In the order the seed made the people, with a grid worker's current cells
    as the territory, so a second run lists what the first one did.
    """
    posts = (
        Post.objects.current()
        .select_related("user", "community", "street", "department", "district")
        .order_by("user_id", "pk")
    )
    cells: dict[int, list[str]] = {}
    for worker_id, code in (
        CellAssignment.objects.current()
        .order_by("cell__code")
        .values_list("worker_id", "cell__code")
    ):
        cells.setdefault(worker_id, []).append(code)
    logins = []
    for p in posts:
        territory = str((p.community or p.street or p.department or p.district).name)
        if p.role == Role.GRID_WORKER and p.user_id in cells:
            territory = ", ".join(cells[p.user_id])
        elif p.role == Role.MEDIATOR and p.street:
            territory = mediation_centre(p.street)
        logins.append(Login(p.role, p.user.username, territory))
    return logins
