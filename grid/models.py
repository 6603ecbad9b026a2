"""Territory: district → street → community → grid cell, and who looks after what.

Codes follow GB/T 2260 (6-digit district) extended by three digits per level,
so a grid cell has a 15-digit code whose prefixes name its community, street
and district. Boundaries are MultiPolygons in WGS-84 (SRID 4326); CGCS2000
differs from WGS-84 by centimetres, so imports in EPSG:4490 are stored as is
after a datum-free reprojection.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from grid.querysets import AreaQuerySet, GridCellQuerySet, TenureQuerySet


@deconstructible
class CodeValidator:
    """Exactly `length` digits; the message is translated when it is shown."""

    def __init__(self, length: int):
        self.length = length

    def __call__(self, value: str) -> None:
        if not (isinstance(value, str) and value.isdigit() and len(value) == self.length):
            raise ValidationError(
                _("Enter a code of exactly %(n)d digits."),
                code="invalid",
                params={"n": self.length},
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, CodeValidator) and other.length == self.length


def code_validator(length: int) -> CodeValidator:
    return CodeValidator(length)


class Area(models.Model):
    """Common shape of every territorial unit: a coded, named boundary."""

    CODE_LENGTH = 0
    name = models.CharField(_("name"), max_length=100)
    boundary = models.MultiPolygonField(_("boundary"), srid=4326, spatial_index=True)
    # The code the unit had in the file it was imported from, when the import
    # gave it one of ours (--renumber, --code-map): a supplier's own reference.
    external_code = models.CharField(_("code in the source file"), max_length=40, blank=True)

    objects = AreaQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class District(Area):
    """区/县, coded by GB/T 2260."""

    CODE_LENGTH = 6
    code = models.CharField(_("code"), max_length=6, unique=True, validators=[code_validator(6)])

    class Meta(Area.Meta):
        verbose_name = _("district")
        verbose_name_plural = _("districts")


class Street(Area):
    """街道/乡镇: its district's code + 3 digits."""

    CODE_LENGTH = 9
    code = models.CharField(_("code"), max_length=9, unique=True, validators=[code_validator(9)])
    district = models.ForeignKey(
        District, models.PROTECT, related_name="streets", verbose_name=_("district")
    )

    class Meta(Area.Meta):
        verbose_name = _("street")
        verbose_name_plural = _("streets")

    @property
    def parent(self) -> District:
        return self.district


class Community(Area):
    """社区/村: its street's code + 3 digits."""

    CODE_LENGTH = 12
    code = models.CharField(_("code"), max_length=12, unique=True, validators=[code_validator(12)])
    street = models.ForeignKey(
        Street, models.PROTECT, related_name="communities", verbose_name=_("street")
    )

    class Meta(Area.Meta):
        verbose_name = _("community")
        verbose_name_plural = _("communities")

    @property
    def parent(self) -> Street:
        return self.street


class GridCell(Area):
    """网格: its community's code + a 3-digit sequence, numbered west→east, north→south."""

    CODE_LENGTH = 15
    code = models.CharField(_("code"), max_length=15, unique=True, validators=[code_validator(15)])
    community = models.ForeignKey(
        Community, models.PROTECT, related_name="cells", verbose_name=_("community")
    )
    households = models.PositiveIntegerField(_("households"), default=0)
    population = models.PositiveIntegerField(_("population"), default=0)

    objects = GridCellQuerySet.as_manager()

    class Meta(Area.Meta):
        verbose_name = _("grid cell")
        verbose_name_plural = _("grid cells")

    @property
    def parent(self) -> Community:
        return self.community


class Department(models.Model):
    """A functional department (城管, 房管, 安监, 派出所 …) of a street or a district."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=50, blank=True)
    street = models.ForeignKey(
        Street,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="departments",
        verbose_name=_("street"),
    )
    district = models.ForeignKey(
        District,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="departments",
        verbose_name=_("district"),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(street__isnull=False, district__isnull=True)
                | models.Q(street__isnull=True, district__isnull=False),
                name="department_belongs_to_street_or_district",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    DISPATCHER = "dispatcher", _("Community dispatcher")
    MEDIATOR = "mediator", _("Mediator")
    COORDINATOR = "coordinator", _("Street coordinator")
    HANDLER = "handler", _("Department handler")
    LEADER = "leader", _("Street leader")
    ADMINISTRATOR = "administrator", _("Administrator")


class Post(models.Model):
    """A person holding a role over one unit of territory (岗位).

    The unit's level follows the role: dispatchers and mediators hold a
    community, coordinators and leaders a street (mediators of the street
    mediation centre too), handlers a department, administrators a district.
    Grid workers hold a community here; the cells they cover are in
    CellAssignment, with history.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="posts", verbose_name=_("user")
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    district = models.ForeignKey(
        District, models.PROTECT, null=True, blank=True, verbose_name=_("district")
    )
    street = models.ForeignKey(
        Street, models.PROTECT, null=True, blank=True, verbose_name=_("street")
    )
    community = models.ForeignKey(
        Community, models.PROTECT, null=True, blank=True, verbose_name=_("community")
    )
    department = models.ForeignKey(
        Department, models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    started = models.DateTimeField(_("started"), default=timezone.now)
    ended = models.DateTimeField(_("ended"), null=True, blank=True)

    objects = TenureQuerySet.as_manager()

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        indexes = [models.Index(fields=["user", "role"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(district__isnull=False)
                    | models.Q(street__isnull=False)
                    | models.Q(community__isnull=False)
                    | models.Q(department__isnull=False)
                ),
                name="post_has_a_unit",
            )
        ]

    def __str__(self) -> str:
        unit = self.community or self.street or self.department or self.district
        return f"{self.user} · {self.get_role_display()} · {unit}"


class CellAssignment(models.Model):
    """Who covered which grid cell, from when to when (ended is null while current)."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="cell_assignments",
        verbose_name=_("worker"),
    )
    cell = models.ForeignKey(
        GridCell, models.CASCADE, related_name="assignments", verbose_name=_("grid cell")
    )
    started = models.DateTimeField(_("started"), default=timezone.now)
    ended = models.DateTimeField(_("ended"), null=True, blank=True)

    objects = TenureQuerySet.as_manager()

    class Meta:
        verbose_name = _("cell assignment")
        verbose_name_plural = _("cell assignments")
        ordering = ["cell", "started"]
        indexes = [models.Index(fields=["cell", "ended"]), models.Index(fields=["worker", "ended"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended__isnull=True) | models.Q(ended__gt=models.F("started")),
                name="assignment_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker} → {self.cell.code}"


class StaffingLog(models.Model):
    """Who ended whose post or cell assignment, and when: the audit of staffing changes.

    Written by grid.staffing (admin, commands); read by the leaders and
    administrators whose territory holds the unit. Text is kept as it read
    then, so the entry stays true after the post or the person is gone.
    """

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )
    via = models.CharField(
        _("via"),
        max_length=20,
        choices=[("admin", _("the admin")), ("command", _("a command"))],
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        related_name="staffing_log",
        verbose_name=_("person"),
    )
    person_name = models.CharField(_("person's name"), max_length=150)
    what = models.CharField(_("what ended"), max_length=300)
    ended = models.DateTimeField(_("ended"))
    # Where it was, for territory scoping (a district-level post has no street).
    street = models.ForeignKey(
        Street, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("street")
    )
    district = models.ForeignKey(
        District,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("district"),
    )

    class Meta:
        verbose_name = _("staffing log entry")
        verbose_name_plural = _("staffing log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.person_name}: {self.what}"
