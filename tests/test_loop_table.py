"""The loop table drives the case page, the API, the services' checks and the flow.

A fake action ("escalate": the dispatcher sends a case straight up to the
street, with a note) is added as one table row plus one service, and shows
up on all four. A table that disagrees with the flow or with its service
fails loop.check(), which runs when Django starts.
"""

from __future__ import annotations

import types
from dataclasses import replace

import pytest
from django import forms as django_forms
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView
from rest_framework.test import APIClient

import project.urls
from cases import api, flows, forms, loop, services
from cases.flows import CaseFlow
from cases.models import State, TimelineEntry
from cases.services import steps
from tests.base import report


class EscalateForm(forms.ActionForm):
    note = django_forms.CharField(label="why")


@steps._run_step
def case_escalate(
    *,
    actor,
    number: str,
    note: str,
    task_id: int | None = None,
    client_id: str | None = None,
) -> TimelineEntry:
    ctx = steps._begin(actor, number, task_id, "escalate")
    return steps._complete(ctx, State.STREET_DISPATCH, event="escalated", note=note)


@pytest.fixture
def escalate(monkeypatch, settings):
    """The fake row in the table, its service in cases.services, and URLs built again."""
    monkeypatch.setattr(services, "case_escalate", case_escalate, raising=False)
    action = loop.Action("escalate", "Escalate", "case_escalate", EscalateForm)
    monkeypatch.setitem(loop.ACTIONS, "escalate", action)
    triage = loop.STEPS[State.TRIAGE]
    actions = triage.actions | {"escalate": (State.STREET_DISPATCH,)}
    monkeypatch.setitem(loop.STEPS, State.TRIAGE, replace(triage, actions=actions))
    urlconf = types.ModuleType("loop_table_urls")
    urlconf.urlpatterns = [
        path("api/v1/", include(api.action_patterns())),
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        *project.urls.urlpatterns,
    ]
    settings.ROOT_URLCONF = urlconf
    return action


def test_a_new_row_is_on_the_page_in_the_api_in_the_checks_and_in_the_flow(client, cast, escalate):
    loop.check()  # the flow already leads from triage to the street: the row fits it
    case = report(cast.worker)

    # The case page offers it to the dispatcher, with its form, and runs it.
    client.force_login(cast.dispatcher)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert f"/cases/{case.number}/escalate/" in page and 'name="note"' in page
    task_id = services.open_task(case).pk
    answer = client.post(f"/cases/{case.number}/escalate/", {"note": "", "task_id": task_id})
    assert answer.status_code == 400  # the form's own rule: a note is required
    client.post(f"/cases/{case.number}/escalate/", {"note": "需街道协调", "task_id": task_id})
    case.refresh_from_db()
    assert case.state == State.STREET_DISPATCH
    assert case.timeline.order_by("seq").last().action == "escalated"

    # The services' state check comes from the table: not possible at street dispatch.
    with translation.override("en"), pytest.raises(services.ServiceError, match="not possible"):
        case_escalate(actor=cast.coordinator, number=case.number, note="again")

    # The API has an operation for it, in its schema with the form's fields.
    other = report(cast.worker)
    api_client = APIClient()
    api_client.force_authenticate(cast.dispatcher)
    other_task = services.open_task(other).pk
    refused = api_client.post(
        f"/api/v1/cases/{other.number}/escalate/", {"task_id": other_task}, format="json"
    )
    assert refused.status_code == 400 and "note" in refused.json()
    done = api_client.post(
        f"/api/v1/cases/{other.number}/escalate/",
        {"note": "上报", "task_id": other_task},
        format="json",
    )
    assert done.status_code == 200 and done.json()["state"] == State.STREET_DISPATCH
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/cases/{number}/escalate/"]["post"]
    assert operation["operationId"] == "cases_escalate"
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(fields["properties"]) == {"task_id", "client_id", "note"}
    assert sorted(fields["required"]) == ["note", "task_id"]

    # The flow's gateway after triage is built from the table.
    assert State.STREET_DISPATCH in [n.name for n, _ in flows.gateway(State.TRIAGE)._branches]


def test_a_destination_the_flow_lacks_fails_at_start_up(escalate, monkeypatch):
    triage = loop.STEPS[State.TRIAGE]
    actions = triage.actions | {"escalate": (State.VERIFY,)}
    monkeypatch.setitem(loop.STEPS, State.TRIAGE, replace(triage, actions=actions))
    with pytest.raises(ImproperlyConfigured, match="after_triage leads to"):
        loop.check()
    # A flow built from this table would have the branch.
    branches = [node.name for node, _ in flows.gateway(State.TRIAGE)._branches]
    assert State.VERIFY in branches


def test_a_destination_that_is_no_node_fails_at_start_up(monkeypatch):
    verify = loop.STEPS[State.VERIFY]
    actions = {"verify": (*verify.actions["verify"], "nowhere")}
    monkeypatch.setitem(loop.STEPS, State.VERIFY, replace(verify, actions=actions))
    with pytest.raises(ImproperlyConfigured, match="'nowhere' is no state or end"):
        loop.check()


def test_a_form_field_the_service_does_not_take_fails_at_start_up(monkeypatch):
    class Wider(forms.ReturnForm):
        urgency = django_forms.CharField()

    wrong = replace(loop.ACTIONS["return"], form=Wider)
    monkeypatch.setitem(loop.ACTIONS, "return", wrong)
    with pytest.raises(ImproperlyConfigured, match="case_return takes no 'urgency'"):
        loop.check()


def test_the_flow_has_no_default_branch_after_any_step():
    for rule in loop.STEPS.values():
        gateway = getattr(CaseFlow, f"after_{rule.state}")
        assert all(condition is not None for _, condition in gateway._branches)


def test_a_service_that_chooses_a_destination_off_the_table_writes_nothing(cast, monkeypatch):
    case = report(cast.worker)
    before = TimelineEntry.objects.count()

    @steps._run_step
    def off_the_table(*, actor, number: str, client_id=None) -> TimelineEntry:
        ctx = steps._begin(actor, number, None, "triage")
        return steps._complete(ctx, State.VERIFY, event="triaged")

    with pytest.raises(loop.RouteError):
        off_the_table(actor=cast.dispatcher, number=case.number)
    case.refresh_from_db()
    assert case.state == State.TRIAGE and TimelineEntry.objects.count() == before


def test_a_start_that_leads_elsewhere_fails_at_start_up(monkeypatch):
    monkeypatch.setitem(loop.STARTS, "start_hazard", State.TRIAGE)
    with pytest.raises(ImproperlyConfigured, match="start_hazard does not lead to triage"):
        loop.check()
