"""The case loop as a viewflow process: wiring only.

Every human step is a View node whose outcome the service that completes it
writes to `process.data["route"]` (the name of the next node); the Switch
after each step follows it. Decisions, permissions and territory checks live
in cases.services, never here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import connection
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.lock import SelectForUpdateLock
from viewflow.workflow.nodes.start import StartHandleActivation
from viewflow.workflow.signals import flow_started, task_started
from viewflow.workflow.status import STATUS

from cases.flow_views import step_view
from cases.models import CaseProcess


def routed(node_name: str):
    """A Switch condition: the completed step chose `node_name`."""

    def condition(activation: Any) -> bool:
        return activation.process.data.get("route") == node_name

    condition.__name__ = f"routed_to_{node_name}"
    return condition


class InCallerTransactionStart(StartHandleActivation):
    """Start a process inside the transaction of the service that reports the case.

    viewflow's own start opens a savepoint and locks the new process row with
    SELECT … FOR UPDATE: five statements of a report's eighteen. Neither can
    matter here: the row is not committed, so no other transaction sees it
    to race for it, and the reporting service's transaction already makes the
    report all or nothing. Signals, task states and the next task are as in
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

    # Two entries instead of one start and a gateway: a report is the busiest
    # write there is, and the gateway's task cost five queries of each.
    start = CaseStart(this.start_case).Next(this.triage)
    start_hazard = CaseStart(this.start_case).Next(this.street_dispatch)

    triage = flow.View(step_view).Next(this.after_triage)
    after_triage = (
        flow.Switch()
        .Case(this.rejected, routed("rejected"))
        .Case(this.onsite, routed("onsite"))
        .Case(this.mediation, routed("mediation"))
        .Default(this.street_dispatch)
    )

    onsite = flow.View(step_view).Next(this.after_onsite)
    after_onsite = flow.Switch().Case(this.triage, routed("triage")).Default(this.verify)

    mediation = flow.View(step_view).Next(this.after_mediation)
    after_mediation = (
        flow.Switch()
        .Case(this.triage, routed("triage"))
        .Case(this.return_visit, routed("return_visit"))
        .Default(this.street_mediation)
    )

    street_dispatch = flow.View(step_view).Next(this.after_street_dispatch)
    after_street_dispatch = (
        flow.Switch()
        .Case(this.triage, routed("triage"))
        .Case(this.street_mediation, routed("street_mediation"))
        .Case(this.rejected, routed("rejected"))
        .Default(this.department)
    )

    street_mediation = flow.View(step_view).Next(this.after_street_mediation)
    after_street_mediation = (
        flow.Switch()
        .Case(this.street_dispatch, routed("street_dispatch"))
        .Case(this.return_visit, routed("return_visit"))
        .Default(this.referred)
    )

    department = flow.View(step_view).Next(this.after_department)
    after_department = (
        flow.Switch().Case(this.street_dispatch, routed("street_dispatch")).Default(this.verify)
    )

    verify = flow.View(step_view).Next(this.after_verify)
    after_verify = (
        flow.Switch()
        .Case(this.onsite, routed("onsite"))
        .Case(this.department, routed("department"))
        .Default(this.return_visit)
    )

    return_visit = flow.View(step_view).Next(this.after_return_visit)
    after_return_visit = (
        flow.Switch()
        .Case(this.onsite, routed("onsite"))
        .Case(this.mediation, routed("mediation"))
        .Case(this.street_mediation, routed("street_mediation"))
        .Case(this.department, routed("department"))
        .Default(this.closed)
    )

    closed = flow.End()
    rejected = flow.End()
    referred = flow.End()

    def start_case(self, activation):
        # The process is saved by the start itself; the service then creates
        # the case pointing at it (one insert, no update of either).
        return activation.process
