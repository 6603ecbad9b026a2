"""Ending a post or a cell assignment: one service for the admin and the commands.

Saving the ended row is what releases the person's claims (the cases app
listens to staffing saves and gives back, after commit, every step its
holder may no longer act on) and what refreshes everyone's territory; this
adds the audit entry a leader or administrator reads.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.models import CellAssignment, Post, StaffingLog

Tenure = Post | CellAssignment


class StaffingError(ValueError):
    """The post or assignment cannot be ended as asked; the message says why."""


def tenure_end(*, actor, tenure: Tenure, via: str, at: datetime | None = None) -> StaffingLog:
    """End `tenure` now (or at `at`) and log who ended it."""
    at = at or timezone.now()
    with transaction.atomic():
        tenure = type(tenure).objects.select_for_update().get(pk=tenure.pk)
        if tenure.ended is not None and tenure.ended <= timezone.now():
            raise StaffingError(_("%(what)s has already ended.") % {"what": describe(tenure)})
        if at <= tenure.started:
            raise StaffingError(_("It cannot end before it started."))
        tenure.ended = at
        tenure.save(update_fields=["ended"])
        return log_ended(actor=actor, tenure=tenure, via=via)


def log_ended(*, actor, tenure: Tenure, via: str) -> StaffingLog:
    """The audit entry for a tenure whose end was just saved (the admin's form saves it)."""
    street, district = _where(tenure)
    person = tenure.worker if isinstance(tenure, CellAssignment) else tenure.user
    return StaffingLog.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        via=via,
        person=person,
        person_name=person.get_full_name() or person.get_username(),
        what=describe(tenure),
        ended=tenure.ended,
        street=street,
        district=district,
    )


def describe(tenure: Tenure) -> str:
    if isinstance(tenure, CellAssignment):
        return _("Cell assignment: %(cell)s") % {"cell": tenure.cell}
    unit = tenure.community or tenure.street or tenure.department or tenure.district
    return _("Post: %(role)s of %(unit)s") % {"role": tenure.get_role_display(), "unit": unit}


def _where(tenure: Tenure):
    if isinstance(tenure, CellAssignment):
        street = tenure.cell.community.street
        return street, street.district
    if tenure.community_id:
        street = tenure.community.street
    elif tenure.street_id:
        street = tenure.street
    elif tenure.department_id and tenure.department.street_id:
        street = tenure.department.street
    else:
        department = tenure.department
        district = tenure.district or (department.district if department else None)
        return None, district
    return street, street.district
