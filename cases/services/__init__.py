"""Every change to a case, one function each, and the reads the screens share.

Views, the API, admin actions, commands and the timer sweeper call these and
nothing else writes cases. Each step checks the actor's role and territory
against the loop table (cases.loop), refuses what is not allowed now with a
ServiceError whose message a person can act on, changes the case and its
viewflow task inside one transaction, writes the timeline, and broadcasts
only after commit.

- errors: what a refusal raises;
- permissions: who may act on a case, who sees the parties' phones;
- selectors: the cases a user may see (and the one filter of case lists), a case's
  open task, duplicates;
- timeline: numbered timeline entries (the map's events);
- deadlines: time limits, clocks and the sweeper's 督办;
- photos: checked uploads;
- report: logging a new case;
- steps: the loop's actions (triage … return visit, claim);
- ownership: who owns a step now, claims given back, stranded cases;
- supervision: urge, reassign, take over, transfer;
- residents: the resident's code, link and own rating; who sees their phone;
- support: "me too", a supporter joins an open case instead of a second case.
"""

from cases.services.deadlines import deadline_sweep, time_limit
from cases.services.errors import NotFound, ServiceError
from cases.services.permissions import can_act, shows_party_phones, staffing, supervises
from cases.services.report import ReportResult, case_report
from cases.services.residents import case_resident_rate, reporter_phone_for
from cases.services.selectors import (
    CaseFilters,
    filtered_cases,
    find_duplicates,
    get_case_for,
    nearby_open_cases,
    open_task,
    visible_cases,
)
from cases.services.steps import (
    case_dispatch,
    case_handle,
    case_mediate,
    case_reject,
    case_return,
    case_return_visit,
    case_triage,
    case_verify,
    task_claim,
    task_unclaim,
)
from cases.services.supervision import (
    case_reassign,
    case_take_over,
    case_transfer,
    case_urge,
)
from cases.services.support import case_support
from cases.services.timeline import entry_for, record, record_many

__all__ = [
    "CaseFilters",
    "NotFound",
    "ReportResult",
    "ServiceError",
    "can_act",
    "case_dispatch",
    "case_handle",
    "case_mediate",
    "case_reassign",
    "case_reject",
    "case_report",
    "case_resident_rate",
    "case_return",
    "case_return_visit",
    "case_support",
    "case_take_over",
    "case_transfer",
    "case_triage",
    "case_urge",
    "case_verify",
    "deadline_sweep",
    "entry_for",
    "filtered_cases",
    "find_duplicates",
    "get_case_for",
    "nearby_open_cases",
    "open_task",
    "record",
    "record_many",
    "reporter_phone_for",
    "shows_party_phones",
    "staffing",
    "supervises",
    "task_claim",
    "task_unclaim",
    "time_limit",
    "visible_cases",
]
