"""Cases, their categories, deadlines, timeline and the calendar they are counted on.

A Case is the record a street office keeps; its workflow runs as one viewflow
process (cases.flows.CaseFlow) whose current step is mirrored in Case.state so
queues, maps and metrics can filter on an indexed column.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from viewflow.workflow.models import Process

from grid.models import Community, Department, GridCell, Street


class Category(models.Model):
    """A two-level coded category: a 2-digit group (矛盾纠纷 …) and 4-digit kinds under it."""

    code = models.CharField(_("code"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("group"),
    )
    is_dispute = models.BooleanField(_("dispute (goes to mediation)"), default=False)
    is_hazard = models.BooleanField(_("safety hazard"), default=False)
    active = models.BooleanField(_("active"), default=True)
    public = models.BooleanField(
        _("public"),
        default=False,
        help_text=_(
            "Cases of this kind may be read by anyone through Open311 (street lights, litter, "
            "potholes). Disputes and safety hazards never are."
        ),
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            # A dispute names its parties and a hazard its premises: never public.
            models.CheckConstraint(
                condition=~models.Q(public=True, is_dispute=True)
                & ~models.Q(public=True, is_hazard=True),
                name="category_public_never_dispute_or_hazard",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display_name}"

    def clean(self) -> None:
        if self.public and (self.is_dispute or self.is_hazard):
            raise ValidationError({"public": _("Disputes and safety hazards are never public.")})

    @property
    def display_name(self) -> str:
        from django.utils.translation import get_language

        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    GENERAL = "general", _("General")
    COMPLEX = "complex", _("Complex")


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    HOTLINE = "hotline", _("Hotline")
    WALK_IN = "walk_in", _("Walk-in")
    API = "api", _("API")


class State(models.TextChoices):
    """The step a case is at. Open states are the flow's human steps."""

    TRIAGE = "triage", _("Awaiting triage")
    ONSITE = "onsite", _("On-site handling")
    MEDIATION = "mediation", _("Community mediation")
    STREET_DISPATCH = "street_dispatch", _("Street dispatch")
    STREET_MEDIATION = "street_mediation", _("Street mediation")
    DEPARTMENT = "department", _("Department handling")
    VERIFY = "verify", _("Verification")
    RETURN_VISIT = "return_visit", _("Return visit")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")


OPEN_STATES = [s for s in State.values if s not in (State.CLOSED, State.REJECTED)]


class ClosureReason(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    AGREEMENT = "agreement", _("Mediated agreement")
    REFERRED = "referred", _("Referred to court or arbitration (诉调对接)")
    UNSATISFIED_FINAL = "unsatisfied_final", _("Closed although the resident was unsatisfied")
    INVALID = "invalid", _("Rejected: invalid report")
    DUPLICATE = "duplicate", _("Rejected: duplicate, merged")
    OUT_OF_SCOPE = "out_of_scope", _("Rejected: out of scope")


REJECTION_REASONS = [ClosureReason.INVALID, ClosureReason.DUPLICATE, ClosureReason.OUT_OF_SCOPE]


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASIC = "basic", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Unsatisfied")


class DeadlineState(models.TextChoices):
    GREEN = "green", _("On time")
    YELLOW = "yellow", _("Near deadline")
    RED = "red", _("Overdue")


class CaseProcess(Process):
    """The viewflow process of one case; the case hangs off it as `process.case`."""

    # The first step's task, set by the start (flows.InCallerTransactionStart)
    # so that a report need not query it; not stored.
    new_task = None

    class Meta:
        proxy = True
        verbose_name = _("case process")

    def choose(self, node: str) -> None:
        """Record where the step being completed leads (checked against cases.loop)."""
        self.data["route"] = node

    def goes_to(self, node: str) -> bool:
        """The decision the gateway after a step reads: did the step choose `node`?"""
        return self.data.get("route") == node


class Case(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    # A client-generated id (phones, API clients) makes a retried report idempotent.
    client_id = models.CharField(_("client id"), max_length=64, null=True, blank=True, unique=True)
    category = models.ForeignKey(Category, models.PROTECT, verbose_name=_("category"))
    urgency = models.CharField(
        _("urgency"), max_length=12, choices=Urgency.choices, default=Urgency.GENERAL
    )
    major_hazard = models.BooleanField(_("major safety hazard"), default=False)
    description = models.TextField(_("description"), max_length=4000)
    address = models.CharField(_("address"), max_length=200, blank=True)
    location = models.PointField(_("location"), srid=4326, spatial_index=True)
    street = models.ForeignKey(Street, models.PROTECT, verbose_name=_("street"))
    community = models.ForeignKey(
        Community, models.PROTECT, null=True, blank=True, verbose_name=_("community")
    )
    cell = models.ForeignKey(
        GridCell, models.PROTECT, null=True, blank=True, verbose_name=_("grid cell")
    )
    department = models.ForeignKey(
        Department, models.PROTECT, null=True, blank=True, verbose_name=_("department")
    )
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reporter"),
    )
    reporter_name = models.CharField(_("reporter's name"), max_length=60, blank=True)
    reporter_phone = models.CharField(_("reporter's phone"), max_length=30, blank=True)
    reporter_consent = models.BooleanField(
        _("the resident agreed to be called back"), default=False
    )
    # With the number, lets the resident follow the case on /r/ (cases.residents).
    access_code = models.CharField(_("access code"), max_length=8, blank=True)
    # The resident's own rating on /r/ after a worker's return visit had closed the case.
    resident_satisfaction = models.CharField(
        _("the resident's own rating"), max_length=20, blank=True, choices=Satisfaction.choices
    )
    resident_words = models.TextField(_("the resident's words"), blank=True)
    # How many others reported the same problem ("me too"): kept by the services
    # that add a Supporter, so lists, the map and the dashboard need no count query.
    supporter_count = models.PositiveIntegerField(_("supporters"), default=0)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.TRIAGE, db_index=True
    )
    process = models.OneToOneField(
        CaseProcess, models.PROTECT, null=True, blank=True, related_name="case"
    )
    merged_into = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_cases",
        verbose_name=_("merged into"),
    )
    # Who handled it last (on site, mediation or department): verification must be someone else.
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handler"),
    )
    handling_step = models.CharField(_("handling step"), max_length=20, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("reopens"), default=0)
    visit_reopens = models.PositiveSmallIntegerField(_("reopens after return visit"), default=0)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    closure_reason = models.CharField(
        _("closure reason"), max_length=20, choices=ClosureReason.choices, blank=True
    )
    closure_note = models.TextField(_("closure note"), blank=True)
    # The current step's clock, counted on the working-day calendar.
    step_started = models.DateTimeField(_("step started"), null=True, blank=True)
    step_warn_at = models.DateTimeField(_("step turns yellow"), null=True, blank=True)
    step_due = models.DateTimeField(_("step due"), null=True, blank=True)
    deadline_state = models.CharField(
        _("deadline"), max_length=8, choices=DeadlineState.choices, default=DeadlineState.GREEN
    )
    # When the sweeper must next look at this case: the next of warn/due not yet
    # passed, null when nothing is pending. Indexed so a sweep reads only due rows.
    deadline_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    supervised = models.BooleanField(_("supervised (督办)"), default=False)
    triaged_at = models.DateTimeField(_("triaged"), null=True, blank=True)
    triage_due = models.DateTimeField(_("triage due"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), db_index=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, db_index=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["street", "state"]),
            models.Index(fields=["community", "state"]),
            models.Index(fields=["cell", "state"]),
            models.Index(fields=["category", "reported_at"]),
            # A street's newest cases first, and its cases reported between two dates
            # (the case search's default page and date filter).
            models.Index(fields=["street", "reported_at"], name="cases_case_street_reported"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class CaseCellWorker(models.Model):
    """A worker who covered the case's cell when it was reported or handled.

    Kept so that figures per worker stay true after cells change hands: the
    case counts for whoever covered its cell then, not whoever covers it now.
    """

    class Stage(models.TextChoices):
        REPORTED = "reported", _("reported")
        HANDLED = "handled", _("handled")

    case = models.ForeignKey(
        Case, models.CASCADE, related_name="cell_workers", verbose_name=_("case")
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("worker")
    )
    cell = models.ForeignKey(GridCell, models.PROTECT, related_name="+", verbose_name=_("cell"))
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("cell worker at the time")
        verbose_name_plural = _("cell workers at the time")
        indexes = [models.Index(fields=["worker", "stage", "at"])]
        constraints = [
            models.UniqueConstraint(fields=["case", "stage", "worker"], name="one_per_stage")
        ]


class Party(models.Model):
    """A party to a dispute; the phone is shown only to those handling the case."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="parties")
    name = models.CharField(_("name"), max_length=60)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


ACTION_LABELS = {
    "reported": pgettext_lazy("timeline action", "reported"),
    "triaged": pgettext_lazy("timeline action", "accepted and dispatched"),
    "rejected": pgettext_lazy("timeline action", "rejected"),
    "merged": pgettext_lazy("timeline action", "duplicate merged in"),
    "supported": pgettext_lazy("timeline action", "reported too (me too)"),
    "returned": pgettext_lazy("timeline action", "returned as not ours"),
    "dispatched": pgettext_lazy("timeline action", "dispatched"),
    "handled": pgettext_lazy("timeline action", "handled"),
    "mediated": pgettext_lazy("timeline action", "agreement reached"),
    "mediation_failed": pgettext_lazy("timeline action", "mediation failed, escalated"),
    "referred": pgettext_lazy("timeline action", "referred (诉调对接)"),
    "verified": pgettext_lazy("timeline action", "verified on site"),
    "verification_failed": pgettext_lazy("timeline action", "verification failed, reopened"),
    "reopened": pgettext_lazy("timeline action", "reopened after the return visit"),
    "closed": pgettext_lazy("timeline action", "closed"),
    "claimed": pgettext_lazy("timeline action", "claimed"),
    "unclaimed": pgettext_lazy("timeline action", "unclaimed"),
    "near_deadline": pgettext_lazy("timeline action", "near its deadline"),
    "overdue": pgettext_lazy("timeline action", "overdue, supervised (督办)"),
    "released": pgettext_lazy("timeline action", "claim released"),
    "urged": pgettext_lazy("timeline action", "urged (督办)"),
    "reassigned": pgettext_lazy("timeline action", "reassigned (改派)"),
    "taken_over": pgettext_lazy("timeline action", "taken over by a supervisor"),
    "transferred_out": pgettext_lazy("timeline action", "transferred away (转办)"),
    "transferred": pgettext_lazy("timeline action", "transferred here (转办)"),
    "relocated": pgettext_lazy("timeline action", "re-located after the boundaries changed"),
}


def state_label(value: str) -> str:
    return str(State(value).label) if value in State.values else value


class TimelineEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Timeline entries are never edited")

    def delete(self):
        raise TypeError("Timeline entries are never deleted")


class TimelineEntry(models.Model):
    """One immutable line of a case's history, and the event the live map receives.

    `seq` is a gap-free, commit-ordered sequence across all cases (assigned
    under a lock on EventSequence), so a map can resume from its cursor.
    """

    seq = models.BigIntegerField(unique=True)
    case = models.ForeignKey(Case, models.PROTECT, related_name="timeline")
    # Copies of the case's territory at the time, so events filter without a join.
    street = models.ForeignKey(Street, models.PROTECT, related_name="+")
    community = models.ForeignKey(Community, models.PROTECT, null=True, related_name="+")
    cell = models.ForeignKey(GridCell, models.PROTECT, null=True, related_name="+")
    at = models.DateTimeField(_("at"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=32)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    # A client-generated id makes a retried task submission idempotent.
    client_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    objects = TimelineEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["seq"]

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))

    @property
    def from_label(self) -> str:
        return state_label(self.from_state)

    @property
    def to_label(self) -> str:
        return state_label(self.to_state)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Timeline entries are never edited")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline entries are never deleted")


class EventSequence(models.Model):
    """A single-row counter; incrementing it locks the row until commit, which
    orders timeline sequence numbers by commit time."""

    last = models.BigIntegerField(default=0)


class Attachment(models.Model):
    case = models.ForeignKey(Case, models.PROTECT, related_name="attachments")
    entry = models.ForeignKey(
        TimelineEntry, models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to="cases/%Y/%m/")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, related_name="+"
    )
    uploaded = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")


class Supporter(models.Model):
    """Someone else who reported the same problem ("me too"), instead of a second case.

    A user (a worker, an API client) or a resident whose name and phone a
    dispatcher took; their words, and their photos as Attachments on the case
    linked to the "supported" (or "merged") timeline entry. `merged_from` is
    set when the supporter came from a duplicate merged at triage.
    """

    case = models.ForeignKey(Case, models.PROTECT, related_name="supporters")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    words = models.TextField(_("words"), blank=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    at = models.DateTimeField(_("at"))
    entry = models.ForeignKey(TimelineEntry, models.PROTECT, related_name="+")
    merged_from = models.ForeignKey(
        Case, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("merged from")
    )
    # A client-generated id makes a retried "me too" idempotent, like a report's.
    client_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("supporter")
        verbose_name_plural = _("supporters")
        ordering = ["at", "pk"]

    @property
    def who(self) -> str:
        """Their name as a page shows it (a resident's phone never appears here)."""
        if self.name:
            return self.name
        return (self.user.get_full_name() or self.user.get_username()) if self.user else "-"

    def __str__(self) -> str:
        return self.who


class CaseCounter(models.Model):
    """Per street and day, the last sequence used in case numbers."""

    street = models.ForeignKey(Street, models.CASCADE)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["street", "day"], name="one_counter_a_day")]


class Step(models.TextChoices):
    """Steps that carry a time limit."""

    TRIAGE = "triage", _("Triage")
    HANDLING = "handling", _("Handling")
    MEDIATION = "mediation", _("Mediation")
    DISPATCH = "dispatch", _("Dispatch")
    VERIFY = "verify", _("Verification")
    RETURN_VISIT = "return_visit", _("Return visit")


class LimitUnit(models.TextChoices):
    HOURS = "hours", _("hours (around the clock)")
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")


class DeadlineRule(models.Model):
    """A step's time limit for a category (or any, when blank) and an urgency.

    The most specific rule wins: the category's own, then its group's, then
    the blank-category default.
    """

    step = models.CharField(_("step"), max_length=20, choices=Step.choices)
    category = models.ForeignKey(
        Category, models.CASCADE, null=True, blank=True, verbose_name=_("category")
    )
    urgency = models.CharField(_("urgency"), max_length=12, choices=Urgency.choices)
    amount = models.PositiveIntegerField(_("amount"))
    unit = models.CharField(_("unit"), max_length=16, choices=LimitUnit.choices)

    class Meta:
        verbose_name = _("deadline rule")
        verbose_name_plural = _("deadline rules")
        constraints = [
            models.UniqueConstraint(
                fields=["step", "category", "urgency"], name="one_rule_per_step_category_urgency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} · {self.category or '*'} · {self.get_urgency_display()}"


class CalendarDay(models.Model):
    """An exception to the Monday–Friday week: a public holiday, or a 调休 working weekend day."""

    day = models.DateField(_("day"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=60, blank=True)
    # Set when an administrator saves the day: `load_calendar` leaves it alone.
    edited = models.BooleanField(_("edited by an administrator"), default=False)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.name}"


class PhoneDisclosure(models.Model):
    """A full phone number of a resident shown to someone (PIPL: who saw it, when, which case)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, models.CASCADE, related_name="+")
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    via = models.CharField(_("shown on"), max_length=20)

    class Meta:
        verbose_name = _("phone number shown")
        verbose_name_plural = _("phone numbers shown")


class NotificationKind(models.TextChoices):
    """What a notification is about; each kind is chosen separately for outside delivery."""

    TASK = "task", _("New task in my inbox")
    RETURNED = "returned", _("Case returned (退回)")
    REOPENED = "reopened", _("Case reopened")
    URGE = "urge", _("Urged (督办)")
    ASSIGNED = "assigned", _("Step assigned to me")
    DUE_SOON = "due_soon", _("My step is due soon (yellow)")
    LATE = "late", _("My step is overdue (red)")
    OVERDUE = "overdue", _("Overdue case in my street (督办)")
    HAZARD = "hazard", _("Major safety hazard")
    CLOSED = "closed", _("A case I reported was closed")
    UNOWNED = "unowned", _("Case without an owner")


class Notification(models.Model):
    """A message to a person, shown in the bell and list and, by their
    preferences, sent outside the app through the outbox.

    A digest stands for many notices of one kind from one action or sweep:
    it has no single case; `data["cases"]` holds their numbers.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications")
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    text = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "read"])]

    @property
    def digest_of(self) -> list[str]:
        """The case numbers a digest stands for (empty for a single notice)."""
        return list(self.data.get("cases", ())) if self.case_id is None else []


class NotificationPreference(models.Model):
    """One row per kind a person wants outside the app, per channel (opt-in)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="one_preference")
        ]


class Contact(models.Model):
    """How a person is reached outside the app besides their e-mail: a mobile for SMS."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="contact")
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)


class OutboxMessage(models.Model):
    """One notification to be sent on one channel; drained by the timer process.

    A row is claimed by moving `next_attempt` ahead (a lease) in one short
    transaction, sent outside it, then marked. Its id is the idempotency key
    the gateway receives, so it can drop the one duplicate a crash between
    sending and marking could cause.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Given up")

    notification = models.ForeignKey(Notification, models.CASCADE, related_name="outbox")
    channel = models.CharField(max_length=20)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_send_per_channel")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt"], name="outbox_due", condition=models.Q(status="pending")
            )
        ]


class Export(models.Model):
    """A CSV or Excel export of a filtered case list, written by a background worker.

    `query` is the requester's case list as they asked for it (their territory and
    filters, a pickled Django query) and `upto` the newest case it may include, so
    a run started over writes the same list. `attempt` fences runs: only the run
    of the current attempt may record progress or finish (cases.exports).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="exports")
    format = models.CharField(max_length=4, choices=[("csv", "CSV"), ("xlsx", "Excel")])
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)
    # The requester's language when they asked: labels and header are written in it.
    language = models.CharField(max_length=16, default="zh-hans")
    query = models.BinaryField(null=True, editable=False)
    upto = models.BigIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=0)
    # The current attempt's job (a django_tasks_db row) and when its run last reported.
    task_id = models.UUIDField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        # The timer sweep looks for running exports whose heartbeat stopped.
        indexes = [models.Index(fields=["status", "heartbeat"])]


class OpenCount(models.Model):
    """How many open cases each place holds, by deadline colour: the live map's counts.

    Kept by database triggers on cases_case (migration 0013), so every way a
    case changes — a service's save(), the deadline sweeper's bulk UPDATE, a
    relocation after a boundary import, COPY — moves its count in the same
    transaction, and the map reads a few hundred rows instead of counting
    100,000 open cases per request. `manage.py rebuild_map_counts` rebuilds
    the table from the cases (after loading rows with triggers disabled).
    community_id and cell_id are 0 for a case without one; no foreign keys,
    so a cell deleted by a boundary import leaves no row to cascade.
    """

    street = models.ForeignKey(
        Street, models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    community_id = models.IntegerField(default=0)
    cell_id = models.IntegerField(default=0, db_index=True)
    deadline_state = models.CharField(max_length=10, choices=DeadlineState.choices)
    open = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["street", "community_id", "cell_id", "deadline_state"],
                name="opencount_place",
            )
        ]


class DailyCount(models.Model):
    """Per place and day reported (Asia/Shanghai), the counts behind the stats strip's
    三率 and its per-unit open and overdue: the map's roll-up of cases.metrics.

    Kept by database triggers on cases_case (migration 0014) like OpenCount. Each
    column counts the day's cases as they are now, so a case closed a week later
    moves its own day's row. `response_due` is not here: its untriaged half grows
    with the clock, not with a change, and is counted from the few untriaged cases.
    """

    street = models.ForeignKey(
        Street, models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    community_id = models.IntegerField(default=0)
    day = models.DateField()
    triaged = models.IntegerField(default=0)
    triaged_in_time = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    rated = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)
    open = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["street", "community_id", "day"], name="dailycount_place_day"
            )
        ]
        indexes = [models.Index(fields=["day"], name="dailycount_day")]
