"""A user's territory: the units their current posts and cell assignments cover.

Every view and API query starts here, so what a person can see is decided in
one place. Models that carry `street`, `community` and `cell` foreign keys
(cases, events) are filtered with `Territory.q()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from core.sharedstate import ACCESS, GenerationCache
from grid.models import CellAssignment, Community, Department, GridCell, Post, Role, Street


@dataclass(frozen=True)
class Territory:
    roles: frozenset[str] = frozenset()
    everything: bool = False
    district_ids: frozenset[int] = frozenset()
    street_ids: frozenset[int] = frozenset()
    community_ids: frozenset[int] = frozenset()
    cell_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    # Streets the territory lies in, wholly or partly: where this user may report.
    reach_street_ids: frozenset[int] = frozenset()
    # Which units each role is held over, for role-specific checks in services.
    posts: tuple[Post, ...] = field(default=(), compare=False)

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser) -> Territory:
        if not user.is_authenticated or not user.is_active:
            return cls()
        if user.is_superuser:
            return cls(roles=frozenset({Role.ADMINISTRATOR}), everything=True)
        # Every request needs it and posts change a few times a year: kept per
        # process until a post, assignment or unit changes (grid.access).
        return _cached.get(user.pk, lambda: cls._load(user))

    @classmethod
    def _load(cls, user: AbstractBaseUser) -> Territory:
        posts = tuple(
            Post.objects.current()
            .filter(user=user)
            .select_related("community", "street", "department", "district")
            # Every request builds a territory: never parse the units' polygons
            # (a district's alone made it several milliseconds).
            .defer("community__boundary", "street__boundary", "district__boundary")
        )
        cells = list(
            CellAssignment.objects.current()
            .filter(worker=user)
            .values_list("cell_id", "cell__community__street_id")
        )
        cell_ids = frozenset(cell_id for cell_id, _ in cells)
        reach = _ids(posts, "street_id") | {street_id for _, street_id in cells}
        reach |= {p.community.street_id for p in posts if p.community_id}
        return cls(
            roles=frozenset(p.role for p in posts),
            # A department handler sees the cases dispatched to the department,
            # not the whole street or district it serves.
            district_ids=_ids(posts, "district_id"),
            street_ids=_ids(posts, "street_id"),
            community_ids=_ids(posts, "community_id"),
            cell_ids=cell_ids,
            department_ids=_ids(posts, "department_id"),
            reach_street_ids=frozenset(reach),
            posts=posts,
        )

    def q(self, prefix: str = "") -> Q:
        """A filter for rows carrying street/community/cell keys under `prefix`."""
        if self.everything:
            return Q()
        q = Q(pk__in=[])
        if self.district_ids:
            q |= Q(**{f"{prefix}street__district_id__in": self.district_ids})
        if self.street_ids:
            q |= Q(**{f"{prefix}street_id__in": self.street_ids})
        if self.community_ids:
            q |= Q(**{f"{prefix}community_id__in": self.community_ids})
        if self.cell_ids:
            q |= Q(**{f"{prefix}cell_id__in": self.cell_ids})
        return q

    def reaches(self, street: Street) -> bool:
        """Does the territory lie (partly) in `street`? The same test as streets(), no query."""
        return (
            self.everything
            or street.pk in self.reach_street_ids
            or street.district_id in self.district_ids
        )

    def streets(self):
        if self.everything:
            return Street.objects.all()
        return Street.objects.filter(
            Q(district_id__in=self.district_ids)
            | Q(pk__in=self.street_ids)
            | Q(communities__in=self.community_ids)
            | Q(communities__cells__in=self.cell_ids)
        ).distinct()

    def communities(self):
        if self.everything:
            return Community.objects.all()
        return Community.objects.filter(
            Q(street__district_id__in=self.district_ids)
            | Q(street_id__in=self.street_ids)
            | Q(pk__in=self.community_ids)
            | Q(cells__in=self.cell_ids)
        ).distinct()

    def cells(self):
        if self.everything:
            return GridCell.objects.all()
        return GridCell.objects.filter(
            Q(community__street__district_id__in=self.district_ids)
            | Q(community__street_id__in=self.street_ids)
            | Q(community_id__in=self.community_ids)
            | Q(pk__in=self.cell_ids)
        )

    def departments(self):
        """Departments serving a street of the territory (or its district), and the user's own."""
        if self.everything:
            return Department.objects.all()
        streets = self.streets().values("pk")
        return Department.objects.filter(
            Q(street__in=streets) | Q(district__streets__in=streets) | Q(pk__in=self.department_ids)
        ).distinct()

    def has_role(self, role: str) -> bool:
        return self.everything or role in self.roles


def _ids(rows, attr: str) -> frozenset[int]:
    return frozenset(v for v in (getattr(r, attr) for r in rows) if v is not None)


# By user. A post or assignment whose `started`/`ended` time passes without a
# row changing takes effect within the cache's max_age (a minute).
_cached: GenerationCache[int, Territory] = GenerationCache(ACCESS)
