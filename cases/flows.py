"""The case loop as a viewflow process: wiring only.

Every human step is a View node whose outcome the service that completes it
writes to `process.data["route"]` (the name of the next node); the Switch
after each step follows it. Decisions, permissions and territory checks live
in cases.services, never here.
"""

from __future__ import annotations

from typing import Any

from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.lock import SelectForUpdateLock

from cases.flow_views import step_view
from cases.models import CaseProcess


def routed(node_name: str):
    """A Switch condition: the completed step chose `node_name`."""

    def condition(activation: Any) -> bool:
        return activation.process.data.get("route") == node_name

    condition.__name__ = f"routed_to_{node_name}"
    return condition


class CaseFlow(flow.Flow):
    process_class = CaseProcess
    # Wait for the row lock rather than fail: services already hold the case row.
    lock_impl = SelectForUpdateLock(nowait=False)

    # Two entries instead of one start and a gateway: a report is the busiest
    # write there is, and the gateway's task cost five queries of each.
    start = flow.StartHandle(this.start_case).Next(this.triage)
    start_hazard = flow.StartHandle(this.start_case).Next(this.street_dispatch)

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
