"""The work diary (民情日志): what a worker heard and saw on a visit, with photos."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from grid.models import Community, GridCell, Street


class DiaryEntry(models.Model):
    """One visit's note. It belongs to a community, whose staff can search it."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="diary", verbose_name=_("author")
    )
    street = models.ForeignKey(Street, models.PROTECT, related_name="+", verbose_name=_("street"))
    community = models.ForeignKey(
        Community, models.PROTECT, related_name="diary", verbose_name=_("community")
    )
    cell = models.ForeignKey(
        GridCell,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("grid cell"),
    )
    visited_at = models.DateTimeField(_("visited"))
    text = models.TextField(_("text"), max_length=1000)
    place = models.CharField(_("household or address"), max_length=100, blank=True)
    point = models.PointField(_("position"), srid=4326, null=True, blank=True)
    client_id = models.CharField(_("client id"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("diary entry")
        verbose_name_plural = _("diary entries")
        indexes = [models.Index(fields=["community", "visited_at"])]

    def __str__(self) -> str:
        return f"{self.author} {self.visited_at:%Y-%m-%d}"


class DiaryPhoto(models.Model):
    entry = models.ForeignKey(DiaryEntry, models.CASCADE, related_name="photos")
    file = models.FileField(_("file"), upload_to="diary/%Y/%m/")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("diary photo")
        verbose_name_plural = _("diary photos")
