"""The case loop in one table: each step, who may act on it, its actions and where they lead.

Everything else is built from this table or checked against it when Django
starts (`check()`, from CasesConfig.ready):

- the case page offers a step's actions with each action's form (cases.views);
- the API has one route per action whose input and OpenAPI schema come from
  the same form (cases.api);
- a service refuses an action in a state the table does not list for it,
  and may only lead where the table says (cases.services.steps);
- the flow's gateway after each step has one branch per destination in the
  table and no default, so a route missing from the flow is an error at
  start-up and never a silent fall-through (cases.flows);
- who may act, case by case (services.can_act) and as the inbox query
  (cases.queues), reads the step's holders.

A new action is one Action row, its name in the steps that offer it, and one
service function whose keyword arguments are the form's fields.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases import forms
from cases.models import State, Step
from grid.models import CellAssignment, Post, Role

if TYPE_CHECKING:
    from django import forms as django_forms

    from cases.models import Case


class End(StrEnum):
    """The flow's end nodes: where a case's loop stops."""

    CLOSED = "closed"
    REJECTED = "rejected"
    REFERRED = "referred"  # 移交: handed to the courts or another authority


class Level(StrEnum):
    """The unit a holder's post or assignment must cover for the case."""

    CELL = "cell"  # assigned to the case's cell (a worker of its community when it has none)
    COMMUNITY = "community"
    STREET = "street"
    DEPARTMENT = "department"
    DISTRICT = "district"


# The case's column each level's unit is matched on.
_CASE_UNIT = {
    Level.COMMUNITY: "community_id",
    Level.STREET: "street_id",
    Level.DEPARTMENT: "department_id",
    Level.DISTRICT: "street__district_id",
}


@dataclass(frozen=True)
class Staffing:
    """Who a user is in the loop: their current posts and assigned cells."""

    # level -> role -> ids of the units of that level the user holds the role over
    units: dict[Level, dict[str, frozenset[int]]]
    cell_ids: frozenset[int]

    @classmethod
    def of(cls, posts: Iterable[Any], cell_ids: Iterable[int]) -> Staffing:
        found: dict[Level, dict[str, set[int]]] = {}
        for post in posts:
            for level in (Level.COMMUNITY, Level.STREET, Level.DEPARTMENT, Level.DISTRICT):
                unit_id = getattr(post, f"{level}_id")
                if unit_id:
                    found.setdefault(level, {}).setdefault(post.role, set()).add(unit_id)
        units = {
            level: {role: frozenset(ids) for role, ids in roles.items()}
            for level, roles in found.items()
        }
        return cls(units, frozenset(cell_ids))

    def holds(self, role: str, level: Level) -> frozenset[int]:
        return self.units.get(level, {}).get(role, frozenset())


def _case_unit(case: Case, level: Level) -> int | None:
    if level == Level.DISTRICT:
        return case.street.district_id
    return getattr(case, _CASE_UNIT[level])


@dataclass(frozen=True)
class Holder:
    """People who may act on a step: a role held over one level of the case's units."""

    role: str
    level: Level

    def allows(self, staff: Staffing, case: Case) -> bool:
        if self.level == Level.CELL:
            if case.cell_id:
                return case.cell_id in staff.cell_ids
            return case.community_id in staff.holds(self.role, Level.COMMUNITY)
        unit_id = _case_unit(case, self.level)
        return unit_id is not None and unit_id in staff.holds(self.role, self.level)

    def q(self, staff: Staffing) -> Q:
        """The same test as allows(), as a filter over cases."""
        if self.level == Level.CELL:
            return Q(cell_id__in=staff.cell_ids) | Q(
                cell__isnull=True,
                community_id__in=staff.holds(self.role, Level.COMMUNITY),
            )
        return Q(**{f"{_CASE_UNIT[self.level]}__in": staff.holds(self.role, self.level)})

    def people(self, *, exclude: Any = None, case: Case | None = None) -> tuple[QuerySet, ...]:
        """Whoever holds this now: for `case`, or for the case at OuterRef (for EXISTS).

        `exclude` is a user who does not count (the handler, where the step
        must be independent of them): an id, or an OuterRef.
        Returns (assignments, posts) for a cell's workers, else (posts,).
        """

        def unit(column: str) -> Any:
            if case is None:
                return OuterRef(column)
            if column == "street__district_id":
                return case.street.district_id
            return getattr(case, column)

        posts = Post.objects.current().filter(role=self.role, user__is_active=True)
        if self.level == Level.CELL:
            cell = CellAssignment.objects.current().filter(
                cell_id=unit("cell_id"), worker__is_active=True
            )
            community = posts.filter(community_id=unit("community_id"))
            if exclude is not None:
                cell, community = (
                    cell.exclude(worker_id=exclude),
                    community.exclude(user_id=exclude),
                )
            return cell, community
        posts = posts.filter(**{f"{self.level}_id": unit(_CASE_UNIT[self.level])})
        return (posts.exclude(user_id=exclude) if exclude is not None else posts,)

    def user_ids(self, case: Case) -> QuerySet:
        """The ids of whoever holds this now for `case`."""
        if self.level == Level.CELL:
            cell, community = self.people(case=case)
            if case.cell_id:
                return cell.values("worker_id")
            return community.values("user_id")
        (posts,) = self.people(case=case)
        return posts.values("user_id")

    def staffed_q(self, *, exclude: Any = None) -> Q:
        """Cases for which someone holds this now."""
        if self.level == Level.CELL:
            cell, community = self.people(exclude=exclude)
            return Q(cell__isnull=False) & Q(Exists(cell)) | Q(cell__isnull=True) & Q(
                Exists(community)
            )
        (posts,) = self.people(exclude=exclude)
        return Q(Exists(posts))


CELL_WORKERS = Holder(Role.GRID_WORKER, Level.CELL)
DISPATCHERS = Holder(Role.DISPATCHER, Level.COMMUNITY)
MEDIATORS = Holder(Role.MEDIATOR, Level.COMMUNITY)
COORDINATORS = Holder(Role.COORDINATOR, Level.STREET)
STREET_MEDIATORS = Holder(Role.MEDIATOR, Level.STREET)
DEPARTMENT_HANDLERS = Holder(Role.HANDLER, Level.DEPARTMENT)
ADMINISTRATORS = Holder(Role.ADMINISTRATOR, Level.DISTRICT)


@dataclass(frozen=True)
class Action:
    """Something a person does to a case: its screen title, its input and its service."""

    name: str
    title: Promise
    # The function in cases.services that does it; its keyword arguments are
    # actor, number and the form's fields.
    service: str
    form: type[django_forms.Form]
    # Does it move the case on? Claiming and supervision keep it where it is.
    moves: bool = True
    # Offered as a form on the case page (claiming is a button of its own).
    on_page: bool = True
    # Who may do it: the step's owner (its chain), or a supervisor of the
    # case (the street's leaders and coordinators, the district's
    # administrators), at any open step.
    by: str = "owner"

    @property
    def slug(self) -> str:
        """Its name in URLs: /api/v1/cases/<number>/<slug>/."""
        return self.name.replace("_", "-")

    @property
    def function(self) -> Callable[..., Any]:
        return getattr(import_module("cases.services"), self.service)

    def states(self) -> list[str]:
        """The steps at which this action is possible."""
        return [s.state for s in STEPS.values() if self.name in s.actions or not self.moves]


SUPERVISORS = (
    Holder(Role.LEADER, Level.STREET),
    COORDINATORS,
    ADMINISTRATORS,
)


def supervises(staff: Staffing, case: Case) -> bool:
    """Is this person one of the case's supervisors (督办, 改派, 转办)?"""
    return any(holder.allows(staff, case) for holder in SUPERVISORS)


Chain = tuple[tuple[Holder, ...], ...]


@dataclass(frozen=True)
class StepRule:
    """One open state of a case: who owns it, its clock, and each action with where it may lead.

    `chain` lists who may act from the closest people outward (首接负责制 and
    属地兜底 for people): the step belongs to the first level of the chain
    that has anyone now, and only they may act. Past the chain, the
    installation's superusers.
    """

    state: State
    chain: Chain
    # Which time limit (DeadlineRule.step) runs while the case is here.
    clock: Step
    # action name -> the nodes (open states or ends) it may lead to
    actions: dict[str, tuple[str, ...]]
    # The person who handled the case does not count (verification and the
    # return visit are independent of the handler), at every level.
    independent: bool = False
    routes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        # Plain strings: they are stored in the process's data and compared with it.
        actions = {name: tuple(map(str, targets)) for name, targets in self.actions.items()}
        object.__setattr__(self, "actions", actions)
        seen: dict[str, None] = {}
        for targets in actions.values():
            seen.update(dict.fromkeys(targets))
        object.__setattr__(self, "routes", tuple(seen))

    def level_of(self, staff: Staffing, case: Case) -> int | None:
        """The first level of the chain the user belongs to for this case, if any.

        Independence from the handler is can_act's to check: it binds every path.
        """
        for index, level in enumerate(self.chain):
            if any(holder.allows(staff, case) for holder in level):
                return index
        return None

    def staffed_q(self, index: int) -> Q:
        """Cases for which the chain's level `index` has anyone now."""
        anyone = Q(pk__in=[])
        for holder in self.chain[index]:
            anyone |= holder.staffed_q()
        if not self.independent:
            return anyone
        # Anyone but the handler; with no handler (NULL) an exclusion would match nobody.
        but_handler = Q(pk__in=[])
        for holder in self.chain[index]:
            but_handler |= holder.staffed_q(exclude=OuterRef("handler_id"))
        return Q(handler__isnull=True) & anyone | Q(handler__isnull=False) & but_handler

    def first_staffed(self, case: Case) -> int | None:
        """The first level of the chain that has anyone now for this case (one query)."""
        from cases.models import Case

        flags = {
            f"level_{i}": ExpressionWrapper(self.staffed_q(i), output_field=BooleanField())
            for i in range(len(self.chain))
        }
        row = Case.objects.filter(pk=case.pk).annotate(**flags).values(*flags).first()
        if row is None:
            return None
        return next((i for i in range(len(self.chain)) if row[f"level_{i}"]), None)

    def owner_level_q(self, index: int) -> Q:
        """Cases at this step whose first staffed level is `index`."""
        q = Q(state=self.state) & self.staffed_q(index)
        for closer in range(index):
            q &= ~self.staffed_q(closer)
        return q

    def unowned_q(self, user_id: int | None = None) -> Q:
        """Cases at this step with nobody in any level of the chain (superusers' to take;
        `user_id`: not those this superuser handled, where the step is independent)."""
        q = Q(state=self.state)
        for index in range(len(self.chain)):
            q &= ~self.staffed_q(index)
        if self.independent and user_id is not None:
            q &= Q(handler__isnull=True) | ~Q(handler_id=user_id)
        return q

    def q(self, staff: Staffing, user_id: int) -> Q:
        """Cases at this step that belong to this user now (their inbox)."""
        mine = Q(pk__in=[])
        for index, level in enumerate(self.chain):
            member = Q(pk__in=[])
            for holder in level:
                member |= holder.q(staff)
            mine |= member & self.owner_level_q(index)
        if self.independent:
            # Not "~Q(handler=user)" alone: that would also drop cases with no handler.
            mine &= Q(handler__isnull=True) | ~Q(handler_id=user_id)
        return mine


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action("triage", _("Accept and dispatch"), "case_triage", forms.TriageForm),
        Action("reject", _("Reject"), "case_reject", forms.RejectForm),
        Action("return", _("Return (not ours)"), "case_return", forms.ReturnForm),
        Action("dispatch", _("Dispatch"), "case_dispatch", forms.DispatchForm),
        Action("handle", _("Report the result"), "case_handle", forms.HandleForm),
        Action("mediate", _("Record the mediation"), "case_mediate", forms.MediateForm),
        Action("verify", _("Verify on site"), "case_verify", forms.VerifyForm),
        Action("return_visit", _("Return visit"), "case_return_visit", forms.ReturnVisitForm),
        Action("claim", _("Claim"), "task_claim", forms.StepForm, moves=False, on_page=False),
        Action("unclaim", _("Release"), "task_unclaim", forms.StepForm, moves=False, on_page=False),
        Action("urge", _("Urge (督办)"), "case_urge", forms.UrgeForm, moves=False, by="supervisor"),
        Action(
            "reassign",
            _("Reassign (改派)"),
            "case_reassign",
            forms.ReassignForm,
            moves=False,
            by="supervisor",
        ),
        Action(
            "take_over",
            _("Take over"),
            "case_take_over",
            forms.TakeOverForm,
            moves=False,
            by="supervisor",
        ),
        Action(
            "transfer",
            _("Transfer (转办)"),
            "case_transfer",
            forms.TransferForm,
            moves=False,
            by="supervisor",
        ),
    ]
}

_HANDLING = (State.ONSITE, State.MEDIATION, State.STREET_MEDIATION, State.DEPARTMENT)
# Past the people closest to a case: its street's coordinators, then its district's administrators.
_OUTWARD = ((COORDINATORS,), (ADMINISTRATORS,))

STEPS: dict[str, StepRule] = {
    s.state: s
    for s in [
        StepRule(
            State.TRIAGE,
            ((DISPATCHERS,), *_OUTWARD),
            Step.TRIAGE,
            {
                "triage": (State.ONSITE, State.MEDIATION, State.STREET_DISPATCH),
                "reject": (End.REJECTED,),
            },
        ),
        StepRule(
            State.ONSITE,
            ((CELL_WORKERS,), (DISPATCHERS,), *_OUTWARD),
            Step.HANDLING,
            {"handle": (State.VERIFY,), "return": (State.TRIAGE,)},
        ),
        StepRule(
            State.MEDIATION,
            ((MEDIATORS,), (DISPATCHERS,), *_OUTWARD),
            Step.MEDIATION,
            {
                "mediate": (State.RETURN_VISIT, State.STREET_MEDIATION),
                "return": (State.TRIAGE,),
            },
        ),
        StepRule(
            State.STREET_DISPATCH,
            _OUTWARD,
            Step.DISPATCH,
            {
                "dispatch": (State.DEPARTMENT, State.STREET_MEDIATION),
                "reject": (End.REJECTED,),
                "return": (State.TRIAGE,),
            },
        ),
        StepRule(
            State.STREET_MEDIATION,
            ((STREET_MEDIATORS,), *_OUTWARD),
            Step.MEDIATION,
            {
                "mediate": (State.RETURN_VISIT, End.REFERRED),
                "return": (State.STREET_DISPATCH,),
            },
        ),
        StepRule(
            State.DEPARTMENT,
            ((DEPARTMENT_HANDLERS,), *_OUTWARD),
            Step.HANDLING,
            {"handle": (State.VERIFY,), "return": (State.STREET_DISPATCH,)},
        ),
        StepRule(
            State.VERIFY,
            ((CELL_WORKERS,), (DISPATCHERS,), *_OUTWARD),
            Step.VERIFY,
            # Not fixed: back to whichever step handled it.
            {"verify": (State.RETURN_VISIT, State.ONSITE, State.DEPARTMENT)},
            independent=True,
        ),
        StepRule(
            State.RETURN_VISIT,
            ((CELL_WORKERS, DISPATCHERS), *_OUTWARD),
            Step.RETURN_VISIT,
            # 不满意 reopens the handling step; otherwise the case closes.
            {"return_visit": (End.CLOSED, *_HANDLING)},
            independent=True,
        ),
    ]
}


# Where a new case starts: a major hazard goes straight to the street's dispatch.
STARTS = {"start": State.TRIAGE, "start_hazard": State.STREET_DISPATCH}


def start_node(major_hazard: bool) -> str:
    return "start_hazard" if major_hazard else "start"


class RouteError(RuntimeError):
    """A service chose a destination the table does not give its action (a bug, not input)."""


def step(state: str) -> StepRule | None:
    return STEPS.get(state)


def offered(state: str) -> list[Action]:
    """The actions the case page offers the step's owners at `state`, in the table's order."""
    rule = STEPS.get(state)
    return [ACTIONS[name] for name in rule.actions] if rule else []


def supervision() -> list[Action]:
    """The actions the case page offers a case's supervisors at any open step."""
    return [a for a in ACTIONS.values() if a.by == "supervisor"]


def check_route(state: str, action: str, route: str) -> None:
    rule = STEPS.get(state)
    allowed = rule.actions.get(action, ()) if rule else ()
    if route not in allowed:
        raise RouteError(f"{action} at {state} may lead to {allowed}, not {route!r}")


def nodes() -> set[str]:
    """Every node name the flow must have: each step and each destination."""
    names = set(STEPS)
    for rule in STEPS.values():
        names.update(rule.routes)
    return names


SERVICE_ARGUMENTS = {"actor", "number"}


def check() -> None:
    """Fail at start-up when the table and the code it names disagree."""
    problems = []
    for rule in STEPS.values():
        for name, targets in rule.actions.items():
            if name not in ACTIONS:
                problems.append(f"{rule.state}: no action {name!r}")
            for target in targets:
                if target not in State.values and target not in End.__members__.values():
                    problems.append(f"{rule.state}.{name}: {target!r} is no state or end")
    for action in ACTIONS.values():
        problems += _check_service(action)
    from cases.flows import CaseFlow  # the flow imports this table

    problems += _check_flow(CaseFlow)
    if problems:
        raise ImproperlyConfigured("The case loop table: " + "; ".join(problems))


def _check_service(action: Action) -> list[str]:
    try:
        function = action.function
    except AttributeError:
        return [f"{action.name}: cases.services has no {action.service}"]
    parameters = inspect.signature(function).parameters
    fields = set(action.form.base_fields)
    problems = [
        f"{action.name}: {action.service} takes no {name!r} (a field of its form)"
        for name in sorted(fields - set(parameters))
    ]
    for name, parameter in parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            problems.append(f"{action.service}: {name} must be keyword-only")
        required = parameter.default is inspect.Parameter.empty
        if required and name not in fields | SERVICE_ARGUMENTS:
            problems.append(f"{action.name}: its form gives no {name!r}, which it needs")
    return problems


def _check_flow(flow_class: Any) -> list[str]:
    """Each step is a node whose gateway branches exactly to the table's destinations."""
    problems = []
    for name in nodes():
        if not hasattr(flow_class, name):
            problems.append(f"the flow has no node {name!r}")
    for start, state in STARTS.items():
        node = getattr(flow_class, start, None)
        if getattr(getattr(node, "_next", None), "name", None) != state:
            problems.append(f"the flow's {start} does not lead to {state}")
    for end in End:
        if getattr(getattr(flow_class, end, None), "task_type", None) != "END":
            problems.append(f"the flow's {end} is not an end")
    for rule in STEPS.values():
        step_node = getattr(flow_class, rule.state, None)
        if getattr(getattr(step_node, "_next", None), "name", None) != f"after_{rule.state}":
            problems.append(f"the flow's {rule.state} does not lead to after_{rule.state}")
        gateway = getattr(flow_class, f"after_{rule.state}", None)
        if gateway is None:
            problems.append(f"the flow has no gateway after_{rule.state}")
            continue
        branches = [(node, cond) for node, cond in gateway._branches]
        if any(cond is None for _, cond in branches):
            problems.append(f"after_{rule.state} has a default branch")
        targets = [getattr(node, "name", getattr(node, "_name", None)) for node, _ in branches]
        if sorted(map(str, targets)) != sorted(rule.routes):
            problems.append(f"after_{rule.state} leads to {targets}, the table to {rule.routes}")
    return problems
