"""Patrols (巡查): a worker's walk through their cells, its track, and check-ins at key places.

A patrol is recorded on the phone and sent whole when it ends (or later, from
the outbox), so it is written once, by patrols.services.record_patrol.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from grid.models import Community, GridCell, Street


class PlaceKind(models.TextChoices):
    SCHOOL = "school", _("School")
    FIRE_EXIT = "fire_exit", _("Fire exit or fire lane")
    MARKET = "market", _("Market")
    CONSTRUCTION = "construction", _("Construction site")
    ELDERLY_HOME = "elderly_home", _("Elderly home")
    OTHER = "other", _("Other")


class KeyPlace(models.Model):
    """A place workers check in at on patrol (重点场所): a school gate, a fire exit.

    Its street, community and cell are derived from the point when it is saved
    (patrols.services.place_save), so the admin and the API scope it by territory.
    """

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=PlaceKind.choices)
    point = models.PointField(_("position"), srid=4326)
    street = models.ForeignKey(
        Street, models.PROTECT, related_name="+", editable=False, verbose_name=_("street")
    )
    community = models.ForeignKey(
        Community,
        models.PROTECT,
        null=True,
        related_name="+",
        editable=False,
        verbose_name=_("community"),
    )
    cell = models.ForeignKey(
        GridCell,
        models.PROTECT,
        null=True,
        related_name="key_places",
        editable=False,
        verbose_name=_("grid cell"),
    )
    active = models.BooleanField(_("active"), default=True)
    check_in_radius_m = models.PositiveIntegerField(
        _("check-in radius (m)"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the installation's default."),
    )

    class Meta:
        verbose_name = _("key place")
        verbose_name_plural = _("key places")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def radius_m(self) -> int:
        return self.check_in_radius_m or settings.PATROL_CHECK_IN_RADIUS_M


class Patrol(models.Model):
    """One patrol: its track, how long and how far, the cells it crossed.

    `street`, `community` and `cell` are where most of the track lies, for
    territory scoping (grid.territory.Territory.q); `cells` are all it crossed.
    """

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="patrols", verbose_name=_("worker")
    )
    client_id = models.CharField(_("client id"), max_length=64, unique=True)
    started_at = models.DateTimeField(_("started"))
    ended_at = models.DateTimeField(_("ended"))
    track = models.LineStringField(_("track"), srid=4326)
    length_m = models.FloatField(_("length (m)"))
    duration_s = models.PositiveIntegerField(_("duration (s)"))
    street = models.ForeignKey(Street, models.PROTECT, related_name="+", verbose_name=_("street"))
    community = models.ForeignKey(
        Community, models.PROTECT, null=True, related_name="+", verbose_name=_("community")
    )
    cell = models.ForeignKey(
        GridCell, models.PROTECT, null=True, related_name="+", verbose_name=_("grid cell")
    )
    cells = models.ManyToManyField(
        GridCell, related_name="patrols", blank=True, verbose_name=_("cells crossed")
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        indexes = [
            models.Index(fields=["worker", "started_at"]),
            models.Index(fields=["started_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__gte=models.F("started_at")),
                name="patrol_ends_after_it_starts",
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.started_at:%Y-%m-%d %H:%M}"


class CheckIn(models.Model):
    """A worker at a key place during a patrol, `distance_m` from it."""

    patrol = models.ForeignKey(
        Patrol, models.CASCADE, related_name="check_ins", verbose_name=_("patrol")
    )
    place = models.ForeignKey(
        KeyPlace, models.PROTECT, related_name="check_ins", verbose_name=_("key place")
    )
    at = models.DateTimeField(_("at"))
    point = models.PointField(_("position"), srid=4326)
    distance_m = models.FloatField(_("distance (m)"))

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["at"]


class PatrolCase(models.Model):
    """A case logged during a patrol.

    The phone sends the report and the patrol separately, in either order, each
    naming the other by its client id; a row waits with `patrol` or `case`
    empty until the other one arrives (patrols.services.link_case).
    """

    patrol_client_id = models.CharField(max_length=64)
    patrol = models.ForeignKey(Patrol, models.CASCADE, null=True, related_name="case_links")
    case_client_id = models.CharField(max_length=64, blank=True)
    case = models.ForeignKey("cases.Case", models.CASCADE, null=True, related_name="patrol_links")

    class Meta:
        verbose_name = _("case found on patrol")
        verbose_name_plural = _("cases found on patrol")
        indexes = [
            models.Index(fields=["patrol_client_id"]),
            models.Index(fields=["case_client_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patrol_client_id", "case"],
                condition=models.Q(case__isnull=False),
                name="patrol_case_once",
            ),
            models.UniqueConstraint(
                fields=["patrol_client_id", "case_client_id"],
                condition=~models.Q(case_client_id=""),
                name="patrol_case_client_once",
            ),
        ]
