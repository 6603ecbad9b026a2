"""The case loop as a viewflow process: wiring only, built from cases.loop.

Every human step is a View node; the service that completes it records the
destination it chose (CaseProcess.goes_to), and the gateway after the step,
made from the loop table, follows it. Decisions, permissions and territory
checks live in cases.services, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.lock import SelectForUpdateLock
from viewflow.workflow.nodes.start import StartHandleActivation
from viewflow.workflow.signals import flow_started, task_started
from viewflow.workflow.status import STATUS

from cases import loop
from cases.flow_views import step_view
from cases.models import CaseProcess, State


@dataclass(frozen=True)
class GoesTo:
    """A gateway's condition: the step just completed chose `node` (CaseProcess.goes_to)."""

    node: str

    def __call__(self, activation: Any) -> bool:
        return activation.process.goes_to(self.node)


def gateway(state: str) -> flow.Switch:
    """The gateway after a step: a branch to each destination the loop table gives it.

    No default branch: a destination the step did not choose is an error
    (viewflow's "No next task"), never a silent fall-through.
    """
    switch = flow.Switch()
    for node in loop.STEPS[state].routes:
        switch.Case(getattr(this, node), GoesTo(node))
    return switch


class InCallerTransactionStart(StartHandleActivation):
    """Start a process inside the transaction of the service that reports the case.

    viewflow's own start opens a savepoint and locks the new process row with
    SELECT … FOR UPDATE, on the busiest write there is. Neither can matter
    here: the row is not committed, so no other transaction sees it to race
    for it, and the reporting service's transaction already makes the report
    all or nothing. Signals, task states and the next task are as in
    viewflow's start.
    """

    @Activation.status.transition(source=STATUS.NEW)
    def execute(self) -> None:
        if not connection.in_atomic_block:
            raise RuntimeError("A case's flow starts inside the reporting service's transaction")
        task_started.send(sender=self.flow_class, process=self.process, task=self.task)
        self.process.save()
        self.complete()
        flow_started.send(sender=self.flow_class, process=self.process, task=self.task)
        self.activate_next()

    @Activation.status.super()
    def create_next(self) -> Iterator[Activation]:
        # Hand the first step's task to the reporting service, which would
        # otherwise query it: the start leads straight to one View node.
        for activation in super().create_next.original():
            if activation.flow_task.task_type == "HUMAN":
                self.process.new_task = activation.task
            yield activation


class CaseStart(flow.StartHandle):
    activation_class = InCallerTransactionStart


class CaseFlow(flow.Flow):
    process_class = CaseProcess
    # Wait for the row lock rather than fail: services already hold the case row.
    lock_impl = SelectForUpdateLock(nowait=False)

    # Two entries instead of one start and a gateway: a gateway's task costs
    # every report a few more statements.
    start = CaseStart(this.start_case).Next(this.triage)
    start_hazard = CaseStart(this.start_case).Next(this.street_dispatch)

    triage = flow.View(step_view).Next(this.after_triage)
    after_triage = gateway(State.TRIAGE)
    onsite = flow.View(step_view).Next(this.after_onsite)
    after_onsite = gateway(State.ONSITE)
    mediation = flow.View(step_view).Next(this.after_mediation)
    after_mediation = gateway(State.MEDIATION)
    street_dispatch = flow.View(step_view).Next(this.after_street_dispatch)
    after_street_dispatch = gateway(State.STREET_DISPATCH)
    street_mediation = flow.View(step_view).Next(this.after_street_mediation)
    after_street_mediation = gateway(State.STREET_MEDIATION)
    department = flow.View(step_view).Next(this.after_department)
    after_department = gateway(State.DEPARTMENT)
    verify = flow.View(step_view).Next(this.after_verify)
    after_verify = gateway(State.VERIFY)
    return_visit = flow.View(step_view).Next(this.after_return_visit)
    after_return_visit = gateway(State.RETURN_VISIT)

    closed = flow.End()
    rejected = flow.End()
    referred = flow.End()

    def start_case(self, activation):
        # The process is saved by the start itself; the service then creates
        # the case pointing at it (one insert, no update of either).
        return activation.process
