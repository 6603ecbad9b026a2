"""A report naming its patrol (cases.signals): checked before it is written, linked after."""

from __future__ import annotations

from cases.signals import report_checking, report_logged
from patrols import services


def _checking(sender, actor, links: dict, **kwargs) -> None:
    if links.get("patrol"):
        services.check_case_link(actor=actor, patrol_client_id=links["patrol"])


def _logged(sender, case, links: dict, **kwargs) -> None:
    if links.get("patrol"):
        services.link_case(case=case, patrol_client_id=links["patrol"])


def connect() -> None:
    report_checking.connect(_checking, dispatch_uid="patrols-check-report-link")
    report_logged.connect(_logged, dispatch_uid="patrols-link-report")
