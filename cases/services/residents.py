"""Residents follow their own case and rate it (回访反馈), without an account.

A case's number and its short access code (or a signed link, which carries
the number) open the resident's page (cases.residents). The resident's rating
there completes the return visit as a worker's call would, or — when a worker
already called and the case is closed — is recorded beside that rating.

The resident's phone number is shown in full only to those who must call
back (whoever may act on the return visit) and to the handler; everyone else
sees it masked, and every full display is logged (PIPL).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Attachment, Case, PhoneDisclosure, Satisfaction, State, TimelineEntry
from cases.services.errors import ServiceError
from cases.services.permissions import can_act
from cases.services.selectors import open_task
from cases.services.steps import StepContext, visit_outcome
from cases.services.timeline import record

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from cases.services.permissions import AnyUser

# No 0/O, 1/I/L: read aloud on the hotline and typed on a phone.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
SALT = "gridcase.resident-link"
RESIDENT_USERNAME = "gridcase-resident"
# The photos a resident and the public see: the handler's and the verifier's of the
# result, never the reporter's (faces, homes).
RESULT_PHOTO_EVENTS = ("handled", "verified")


def result_photos() -> QuerySet[Attachment]:
    return Attachment.objects.filter(entry__action__in=RESULT_PHOTO_EVENTS)


def new_access_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def link_token(case: Case) -> str:
    """The resident's link: signed, so it names the case without the code; the same
    link every time (no timestamp), so a link once sent keeps working."""
    return signing.Signer(salt=SALT).sign_object(case.number)


def case_for_token(token: str) -> Case | None:
    try:
        number = signing.Signer(salt=SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    return Case.objects.filter(number=number).first()


def case_for_code(number: str, code: str) -> Case | None:
    """The case when the code is its own; None for a wrong code and an unknown number alike."""
    case = Case.objects.filter(number=number.strip()).first()
    given = code.strip().upper()
    if case is None or not case.access_code:
        secrets.compare_digest(given, "X" * CODE_LENGTH)  # the same work either way
        return None
    return case if secrets.compare_digest(given, case.access_code) else None


def resident_actor() -> AbstractBaseUser:
    """The account a resident's own rating is recorded under: it cannot log in."""
    user, created = get_user_model().objects.get_or_create(
        username=RESIDENT_USERNAME, defaults={"first_name": "居民", "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def may_rate(case: Case) -> bool:
    """At the return visit; or closed after a worker's call, until the resident rated."""
    if case.state == State.RETURN_VISIT:
        return True
    return bool(case.state == State.CLOSED and case.satisfaction and not case.resident_satisfaction)


def case_resident_rate(
    *, number: str, satisfaction: str, words: str = "", browser_user: AnyUser | None = None
) -> TimelineEntry:
    """The resident rates their case (满意 / 基本满意 / 不满意) on their own page.

    `browser_user` is whoever is logged in in the browser that sends it, if anyone:
    the case's handler never rates their own work, on this page either.
    """
    if satisfaction not in Satisfaction.values:
        raise ServiceError(_("Choose how satisfied you are."))
    words = words.strip()[:1000]
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(number=number).first()
        if case is None or not may_rate(case):
            raise ServiceError(_("This case cannot be rated now."))
        if browser_user is not None and browser_user.pk == case.handler_id:
            raise ServiceError(_("You handled this case: its rating is the resident's."))
        if case.state == State.RETURN_VISIT:
            task = open_task(case)
            actor = resident_actor()
            ctx = StepContext(case, task, actor, timezone.now(), case.state, "return_visit")
            case.resident_satisfaction, case.resident_words = satisfaction, words
            # 不满意 follows the return visit's own rule (reopen once, then close).
            return visit_outcome(ctx, satisfaction, words, reopen=True, client_id=None)
        case.resident_satisfaction = satisfaction
        case.resident_words = words
        case.save(update_fields=["resident_satisfaction", "resident_words", "updated"])
        return record(
            case,
            "resident_rated",
            actor=None,
            note=words,
            data={"satisfaction": satisfaction},
        )


def masked(phone: str) -> str:
    """138****5678: enough to recognise, not to call."""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    keep = 3 if len(digits) >= 11 else 1
    return digits[:keep] + "*" * (len(digits) - keep - 4) + digits[-4:]


def calls_back(user: AnyUser, case: Case, *, acts: bool | None = None) -> bool:
    """Who may see the resident's full number: the return visit's owner, and the handler."""
    if not user.is_authenticated:
        return False
    if case.handler_id is not None and case.handler_id == user.pk:
        return True
    if case.state != State.RETURN_VISIT:
        return False
    return can_act(user, case) if acts is None else acts


def tells_code(user: AnyUser, case: Case, *, acts: bool | None = None) -> bool:
    """Who sees the resident's code and link, to tell them again: who took the report and
    who may call back or handles the case's residents, but never its handler (the code
    rates the case)."""
    from cases.services.permissions import shows_party_phones

    if not user.is_authenticated or user.pk == case.handler_id:
        return False
    return user.pk == case.reporter_id or shows_party_phones(user, case, acts=acts)


def reporter_phone_for(user: AnyUser, case: Case, *, via: str, acts: bool | None = None) -> str:
    """The reporter's phone as this person may see it; a full display is logged."""
    phone = case.reporter_phone
    if not phone:
        return ""
    if not calls_back(user, case, acts=acts):
        return masked(phone)
    PhoneDisclosure.objects.create(user=user, case=case, via=via)
    return phone
