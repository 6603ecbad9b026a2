"""Someone can always act, and only inside the case's territory: a stateful property test.

Hypothesis drives random reports, steps and staffing changes (posts ended
and created, cells reassigned, a department emptied) over the two streets of
tests/base.py, and after every step checks, for every open case:

- at least one person may act on it, and it is in that person's inbox;
- nobody who may act on it is outside the case's territory;
- the person who handled it may neither verify it nor do its return visit;
- the timeline's last entry ends in the case's state.

Each example runs in a savepoint rolled back at its end. The bounds keep it
inside CI's time on PostGIS and SpatiaLite alike.
"""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from cases import loop, queues, reference, services
from cases.models import OPEN_STATES, Case, ClosureReason, Satisfaction, State
from core import sharedstate
from grid.models import CellAssignment, Department, GridCell, Post, Role
from tests.base import build_cast, build_territory, make_user, report

POINTS = [
    (114.302, 30.558),  # cell A1-001
    (114.308, 30.558),  # cell A1-002
    (114.312, 30.558),  # cell A2-001
    (114.302, 30.562),  # street A, no community
    (114.302, 30.548),  # cell B1-001
    (114.312, 30.542),  # cell B2-...
]
ROLES_AT = {
    Role.DISPATCHER: "community",
    Role.MEDIATOR: "community",
    Role.COORDINATOR: "street",
    Role.LEADER: "street",
    Role.ADMINISTRATOR: "district",
}


class CaseLoop(RuleBasedStateMachine):
    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        sharedstate.clear_all()
        reference.clear()
        self.t = build_territory()
        self.cast = build_cast(self.t)
        self.street_b_department = Department.objects.create(
            name="徐家棚城管中队", kind="城管", street=self.t.street_b
        )
        handler_b = make_user("handler-b")
        Post.objects.create(user=handler_b, role=Role.HANDLER, department=self.street_b_department)
        self.people = [getattr(self.cast, n) for n in vars(self.cast) if n != "department"]
        self.people.append(handler_b)
        self.spare = 0

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)
        sharedstate.clear_all()
        reference.clear()

    # --- what people do ---------------------------------------------------

    @rule(target=cases, point=st.sampled_from(POINTS))
    def report(self, point):
        return report(self.cast.admin, point=point).number

    @rule(number=cases, choice=st.integers(0, 1_000))
    def act(self, number, choice):
        case = Case.objects.select_related("street").get(number=number)
        rule_ = loop.step(case.state)
        if rule_ is None:
            return
        actors = [p for p in self.people if services.can_act(p, case)]
        assert actors, f"nobody may act on {number} at {case.state}"
        actor = actors[choice % len(actors)]
        names = list(rule_.actions)
        action = names[choice % len(names)]
        arguments = self.arguments(action, case, choice)
        if arguments is None:
            return
        handler = case.handler_id
        try:
            loop.ACTIONS[action].function(actor=actor, number=number, **arguments)
        except services.ServiceError:
            return  # a rule of the step (a return with nowhere to go, …): nothing changed
        if action in ("verify", "return_visit"):
            assert actor.pk != handler, f"the handler did the {action} of {number}"

    def arguments(self, action: str, case: Case, choice: int) -> dict | None:
        if action == "triage":
            return {"route": [State.ONSITE, State.STREET_DISPATCH][choice % 2]}
        if action == "reject":
            return {"reason": ClosureReason.OUT_OF_SCOPE, "note": "不属于本街道职责"}
        if action == "return":
            return {"reason": "非本单位职责"}
        if action == "dispatch":
            department = (
                self.cast.department if case.street_id == self.t.street_a.pk
                else self.street_b_department
            )  # fmt: skip
            return {"department": department}
        if action == "handle":
            return {"result": "已处置"}
        if action == "mediate":
            return {"success": choice % 2 == 0, "note": "调解记录"}
        if action == "verify":
            return {"passed": choice % 3 != 0, "note": "现场核查"}
        if action == "return_visit":
            return {"satisfaction": [Satisfaction.SATISFIED, Satisfaction.UNSATISFIED][choice % 2]}
        return {"task_id": None} if action in ("claim", "unclaim") else None

    @rule(number=cases, choice=st.integers(0, 1_000))
    def claim(self, number, choice):
        case = Case.objects.get(number=number)
        actors = [p for p in self.people if services.can_act(p, case)]
        if case.is_open and actors:
            with contextlib.suppress(services.ServiceError):
                services.task_claim(actor=actors[choice % len(actors)], number=number)

    @rule(number=cases, choice=st.integers(0, 1_000))
    def supervise(self, number, choice):
        """A supervisor urges, takes over, reassigns or transfers (within their territory)."""
        case = Case.objects.select_related("street").get(number=number)
        supervisors = [p for p in self.people if services.supervises(p, case)]
        if not case.is_open or not supervisors:
            return
        actor = supervisors[choice % len(supervisors)]
        kind = choice % 4
        with contextlib.suppress(services.ServiceError):
            if kind == 0:
                services.case_urge(actor=actor, number=number, note="督办")
            elif kind == 1:
                services.case_take_over(actor=actor, number=number, reason="接管")
            elif kind == 2:
                eligible = [p for p in self.people if services.can_act(p, case)]
                to = eligible[choice % len(eligible)]
                services.case_reassign(actor=actor, number=number, to=to, reason="改派")
            else:
                community = [self.t.a1, self.t.a2, self.t.b1, self.t.b2][choice % 4]
                services.case_transfer(
                    actor=actor, number=number, community=community, reason="转办"
                )

    # --- staffing changes ---------------------------------------------------

    @rule(choice=st.integers(0, 1_000))
    def end_a_post(self, choice):
        posts = list(Post.objects.current().order_by("pk"))
        if posts:
            post = posts[choice % len(posts)]
            post.ended = timezone.now()
            post.save()
            self.release(post.user)

    @rule(role=st.sampled_from(list(ROLES_AT)), choice=st.integers(0, 1_000))
    def create_a_post(self, role, choice):
        self.spare += 1
        person = make_user(f"new-{self.spare}")
        level = ROLES_AT[role]
        units = {
            "community": [self.t.a1, self.t.a2, self.t.b1, self.t.b2],
            "street": [self.t.street_a, self.t.street_b],
            "district": [self.t.district],
        }[level]
        Post.objects.create(user=person, role=role, **{level: units[choice % len(units)]})
        self.people.append(person)
        self.release()

    @rule(choice=st.integers(0, 1_000))
    def reassign_a_cell(self, choice):
        cells = list(GridCell.objects.order_by("code"))
        cell = cells[choice % len(cells)]
        for assignment in CellAssignment.objects.current().filter(cell=cell):
            assignment.ended = timezone.now()
            assignment.save()
            self.release(assignment.worker)
        workers = [p for p in self.people if Post.objects.filter(user=p).exists()]
        worker = workers[choice % len(workers)]
        if not CellAssignment.objects.current().filter(worker=worker, cell=cell).exists():
            CellAssignment.objects.create(worker=worker, cell=cell)
        self.release()

    @rule()
    def empty_the_department(self):
        for post in Post.objects.current().filter(department=self.cast.department):
            post.ended = timezone.now()
            post.save()
            self.release(post.user)

    def release(self, user=None) -> None:
        # The on_commit hook does this after a real commit; here everything is
        # one transaction, so call what it calls.
        from cases.services.ownership import release_stale_claims

        release_stale_claims()

    # --- what must hold after every step ------------------------------------

    @invariant()
    def every_open_case_has_an_owner_inside_its_territory(self):
        for case in Case.objects.filter(state__in=OPEN_STATES).select_related("street"):
            actors = [p for p in self.people if services.can_act(p, case)]
            assert actors, f"nobody may act on {case.number} at {case.state}"
            for person in actors:
                assert services.visible_cases(person).filter(pk=case.pk).exists(), (
                    f"{person} may act on {case.number} outside their territory"
                )
            assert any(queues.my_tasks(p).filter(pk=case.pk).exists() for p in actors), (
                f"{case.number} is in nobody's inbox"
            )
            if loop.step(case.state).independent and case.handler_id:
                handler = next((p for p in self.people if p.pk == case.handler_id), None)
                assert handler is None or not services.can_act(handler, case)

    @invariant()
    def the_timeline_ends_in_the_cases_state(self):
        for case in Case.objects.all():
            last = case.timeline.order_by("seq").last()
            assert last is not None and last.to_state == case.state, case.number


def test_someone_inside_the_territory_can_always_act(db):
    run_state_machine_as_test(
        CaseLoop,
        settings=settings(
            max_examples=10,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            # No shrinking: a failure is reproduced exactly (derandomized), and
            # shrinking this machine's examples can take many minutes.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
