"""The territory probe: every person of street A, and strangers, try street B's
case through every channel, and get a refusal with none of its data.

Street B's case carries things nobody outside street B may read: its number,
its description, the reporter's name and phone, a party's name and phone, a
photo. Each channel is tried by each role of street A (leader, coordinator,
dispatcher, mediator, street mediator, grid worker, department handler) and
by an anonymous visitor — once as staffed, and once after a staffing change
made while every session was already open (the B dispatcher moved to street
A, someone new staffed in B). A new channel joins CHANNELS (HTTP) or the
socket tests at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases import loop
from cases.calendar import CHINA
from cases.models import Case, Notification
from grid.models import Post, Role
from tests.base import POINT_B1, jpeg, make_user, map_socket, report

REPORTER, REPORTER_PHONE = "赵秘密", "13912345678"
PARTY, PARTY_PHONE = "钱当事", "13700001111"
B_WORKER = "孙乙网格"  # street B's grid worker: their cells and history are B's too
DESCRIPTION = "徐家棚街道的机密纠纷描述"
# B's worker's patrol today, at B's key place, and their work diary (民情日志).
KEY_PLACE = "徐家棚机密重点场所"
PATROL_NOTE = "徐家棚机密巡查备注"
DIARY_TEXT = "徐家棚机密民情日志"
STREET_A_ROLES = [
    "leader", "coordinator", "dispatcher", "mediator", "street_mediator", "worker", "handler",
]  # fmt: skip
ALL_ROLES = [*STREET_A_ROLES, "anonymous"]
# Every action of the loop table, on the page and in the API: a new row joins the probe.
HTML_ACTIONS = [action.name for action in loop.ACTIONS.values()]
API_ACTIONS = [action.slug for action in loop.ACTIONS.values()]


# Street B's case lies 55 m from the border with street A, where street A has
# a case of the same kind awaiting triage: its screen offers possible duplicates.
B_AT_THE_BORDER = (114.302, 30.5498)
A_AT_THE_BORDER = (114.302, 30.5503)


@dataclass
class Probe:
    case: Case
    photo_url: str
    photo_pk: int
    api_photo_url: str
    b_cell_pk: int
    neighbour: str  # street A's case next to it
    digest: int  # a digest of street A's leader that names B's case (as if stale)
    b_cell_code: str = ""
    diary_pk: int = 0
    diary_photo_url: str = ""

    @property
    def secrets(self) -> list[str]:
        return [
            self.case.number, DESCRIPTION, REPORTER, REPORTER_PHONE, PARTY, PARTY_PHONE, B_WORKER,
            KEY_PLACE, PATROL_NOTE, DIARY_TEXT,
        ]  # fmt: skip


@pytest.fixture
def probe(cast, territory, settings, tmp_path) -> Probe:
    settings.MEDIA_ROOT = tmp_path
    # Every role's guess at the resident's page gets its real answer, not the lockout.
    settings.RESIDENT_LOOKUP_RATE = "1000/hour"
    case = report(
        cast.outsider,
        code="0101",  # a dispute, so it has parties
        point=B_AT_THE_BORDER,
        source="hotline",
        description=DESCRIPTION,
        reporter_name=REPORTER,
        reporter_phone=REPORTER_PHONE,
        parties=[{"name": PARTY, "phone": PARTY_PHONE}],
        photos=[jpeg()],
    )
    photo = case.attachments.get()
    neighbour = report(cast.dispatcher, code="0101", point=A_AT_THE_BORDER, source="hotline")
    b_worker = _staff_street_b(case.cell)
    diary = _patrol_and_diary_in_b(b_worker, case.cell)
    # A digest names its cases by number: the page and the API show only those the
    # reader may see now (a person moved to another street keeps their old digests).
    digest = Notification.objects.create(
        user=cast.leader,
        kind="late",
        text="2 of your cases turned red.",
        data={"cases": [case.number, neighbour.number]},
    )
    return Probe(
        case=case,
        photo_url=photo.file.url,
        photo_pk=photo.pk,
        api_photo_url=f"/api/v1/cases/{case.number}/photos/{photo.pk}/",
        b_cell_pk=case.cell_id,
        neighbour=neighbour.number,
        digest=digest.pk,
        b_cell_code=case.cell.code,
        diary_pk=diary.pk,
        diary_photo_url=f"/api/v1/diary/{diary.pk}/photos/{diary.photos.get().pk}/",
    )


def _staff_street_b(cell) -> None:
    """B's worker covers the case's cell now and covered it before: an ended assignment
    on the staffing log, and a history on both sides of it."""
    from grid.models import CellAssignment
    from grid.staffing import tenure_end

    worker = make_user("b_worker", first_name=B_WORKER)
    earlier = CellAssignment.objects.create(
        worker=worker, cell=cell, started=timezone.now() - timedelta(days=90)
    )
    tenure_end(actor=None, tenure=earlier, via="command")
    CellAssignment.objects.create(worker=worker, cell=cell)
    return worker


def _patrol_and_diary_in_b(worker, cell):
    """B's worker patrols today past B's key place, and writes a diary entry with a photo."""
    from django.contrib.gis.geos import Point

    from diary.services import diary_record
    from patrols import services as patrols
    from patrols.figures import day_span
    from patrols.models import KeyPlace

    Post.objects.create(user=worker, role=Role.GRID_WORKER, community=cell.community)
    lon = B_AT_THE_BORDER[0]
    place = patrols.place_save(KeyPlace(name=KEY_PLACE, kind="school", point=Point(lon, 30.546)))
    start = day_span(timezone.now().astimezone(CHINA).date())[0] + timedelta(minutes=1)
    fixes = [
        patrols.Fix(lon, 30.541 + 0.001 * i, start + timedelta(minutes=i), 5.0) for i in range(9)
    ]
    patrols.record_patrol(
        worker=worker,
        payload=patrols.PatrolPayload(
            client_id="b-patrol",
            started_at=start,
            ended_at=start + timedelta(minutes=10),
            points=fixes,
            check_ins=[patrols.CheckInFix(place.pk, fixes[5])],
            note=PATROL_NOTE,
        ),
    )
    return diary_record(
        author=worker,
        client_id="b-diary",
        visited_at=start,
        text=DIARY_TEXT,
        point=Point(lon, 30.546, srid=4326),
        photos=[jpeg()],
    ).entry


@pytest.fixture
def people(cast, territory) -> dict:
    street_mediator = make_user("street_mediator", first_name="街道调解员")
    Post.objects.create(user=street_mediator, role=Role.MEDIATOR, street=territory.street_a)
    return {
        "leader": cast.leader,
        "coordinator": cast.coordinator,
        "dispatcher": cast.dispatcher,
        "mediator": cast.mediator,
        "street_mediator": street_mediator,
        "worker": cast.worker,
        "handler": cast.handler,
        "anonymous": None,
    }


def staff_change(cast, territory) -> None:
    """Mid-session: B's dispatcher moves to street A; someone new is staffed in B."""
    Post.objects.filter(user=cast.outsider, ended__isnull=True).update(ended=timezone.now())
    Post.objects.create(user=cast.outsider, role=Role.LEADER, street=territory.street_a)
    newcomer = make_user("newcomer")
    Post.objects.create(user=newcomer, role=Role.DISPATCHER, community=territory.b1)


def channels(p: Probe) -> list[tuple[str, str, dict]]:
    """(method, path, data) for every HTTP channel that could carry B's case."""
    n = p.case.number
    now = timezone.now()
    span = {"start": (now - timedelta(days=30)).isoformat(), "end": now.isoformat()}
    whole = "114.0,30.0,115.0,31.0"
    gets = [
        "/", "/cases/tasks/", "/cases/triage/", "/cases/ownership/", "/cases/notifications/",
        "/cases/search/",
        "/api/v1/notifications/", "/cases/notifications/settings/",
        f"/cases/notifications/{p.digest}/",
        f"/cases/{n}/", f"/cases/{p.neighbour}/",
        f"/api/v1/cases/{p.neighbour}/", f"/map/cases/{p.neighbour}.json",
        "/map/", "/map/boundaries.json", f"/map/cells.json?bbox={whole}",
        f"/map/communities.json?bbox={whole}", f"/map/snapshot.json?bbox={whole}&cells=0",
        f"/map/snapshot.json?bbox={whole}", "/map/snapshot.json", "/map/stats.json",
        f"/map/cases/{n}.json", f"/map/cells/{p.b_cell_pk}.json",
        "/m/", "/api/v1/cases/", f"/api/v1/cases/{n}/", "/api/v1/tasks/",
        "/api/v1/categories/", "/api/v1/territory/streets/", "/api/v1/territory/communities/",
        "/api/v1/territory/cells/", p.photo_url, p.api_photo_url,
        f"/api/v1/territory/locate/?lon={POINT_B1[0]}&lat={POINT_B1[1]}",
        "/territory/cells/", f"/territory/cells/{p.b_cell_code}/", "/territory/workers/b_worker/",
        "/territory/log/",
        *dashboard_paths(p),
        "/api/v1/patrols/setup/", "/api/v1/patrols/mine/", "/map/patrols.json",
        "/patrols/workers/", "/patrols/workers/?format=csv", "/patrols/workers/?period=week",
        "/api/v1/diary/mine/", p.diary_photo_url, "/diary/", f"/diary/{p.diary_pk}/",
    ]  # fmt: skip
    result = [("get", path, {}) for path in gets]
    # Before the HTML actions: their refusals leave messages the next page would show.
    result += me_too(p)
    # The case search, by B's text and part of B's number (the whole number is the
    # user's own input, echoed in the search box), and a filter by B's community.
    result += [
        ("get", "/cases/search/", {"q": DESCRIPTION[:8]}),
        ("get", "/cases/search/", {"q": n[:-1]}),
        ("get", "/cases/search/", {"community": n.split("-")[0] + "001"}),
        ("get", "/cases/exports/", {}),
        ("post", "/cases/search/export/?q=" + DESCRIPTION[:8], {"format": "csv"}),
        ("get", "/diary/", {"q": DIARY_TEXT[:5]}),
        ("get", "/diary/", {"community": p.case.community_id}),
        ("get", "/map/patrols.json", {"date": timezone.now().astimezone(CHINA).date().isoformat()}),
        # Someone else's client ids: refused without saying whose.
        ("post", "/api/v1/patrols/", {"client_id": "b-patrol"}),
        ("post", "/api/v1/diary/", {"client_id": "b-diary", "visited_at": "x", "text": "x"}),
    ]
    result.append(("get", "/api/v1/metrics/", span))
    result += [("get", "/api/v1/metrics/", span | {"group": g}) for g in ("cell", "community")]
    result += [("post", f"/cases/{n}/{action}/", {"route": "onsite"}) for action in HTML_ACTIONS]
    result.append(("post", "/cases/triage/bulk/", {"numbers": [n], "action": "onsite"}))
    # The resident's page: B's number with a code that is not its own.
    result.append(("post", "/r/", {"number": [n], "code": ["WRONG2"]}))
    result += [("post", f"/api/v1/cases/{n}/{a}/", {"route": "onsite"}) for a in API_ACTIONS]
    return result


def me_too(p: Probe) -> list[tuple[str, str, dict]]:
    """Offered nearby cases and joining one as a supporter: in the API and on the hotline screen."""
    lon, lat = B_AT_THE_BORDER
    hotline = {
        "category": "0101", "urgency": "general", "description": "我也要反映", "lon": lon,
        "lat": lat, "source": "hotline", "reporter_name": "路人",
    }  # fmt: skip
    return [
        ("get", "/api/v1/cases/nearby/", {"category": "0101", "lon": lon, "lat": lat}),
        ("post", f"/api/v1/cases/{p.case.number}/support/", {"words": "我也看到"}),
        ("post", "/cases/new/", hotline),
        ("post", "/cases/new/", hotline | {"support": [p.case.number]}),
    ]


def dashboard_paths(p: Probe) -> list[str]:
    """The leadership desk and its report: as each person's own unit, and asked for B's."""
    street, district = p.case.street_id, p.case.street.district_id
    return [
        path + query
        for path in ("/dashboard/", "/dashboard/report/")
        for query in ("", f"?unit=street:{street}", f"?unit=district:{district}", "?unit=city")
    ]


def open311(p: Probe, key: str | None) -> list[tuple[str, str, dict]]:
    auth = {"api_key": key} if key else {}
    return (
        [
            ("get", f"/open311/v2/requests.{fmt}", auth | extra)
            for fmt in ("json", "xml")
            for extra in ({}, {"service_request_id": p.case.number})
        ]
        + [("get", f"/open311/v2/requests/{p.case.number}.{fmt}", auth) for fmt in ("json", "xml")]
        + [("get", f"/open311/v2/media/{p.photo_pk}", auth)]
    )


# A form's CSRF token is masked anew in every answer: not a difference between answers.
CSRF_VALUE = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*"')


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        text = b"".join(response.streaming_content).decode("utf-8", "replace")
    else:
        text = response.content.decode("utf-8", "replace")
    if "json" in response.get("Content-Type", ""):
        # JSON may escape Chinese as \uXXXX: a secret like 张三 would pass unseen.
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), ensure_ascii=False)
    return CSRF_VALUE.sub(r'\1"', text)


UNKNOWN = "420106003-20000101-9999"  # a number no case has


def leaks(p: Probe, session: Client, key: str | None, requests) -> list[tuple]:
    """The requests whose answer shows B's data (or fails with a 5xx).

    A refusal may repeat the number that was asked for, but must then read
    exactly as the answer for a number no case has: it confirms nothing.
    """
    found = []
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    n = p.case.number
    for method, path, data in requests:
        response = getattr(session, method)(path, data, **headers)
        body = body_of(response)
        shown = [s for s in p.secrets if s in body]
        photos = (
            p.photo_url,
            p.api_photo_url,
            f"/open311/v2/media/{p.photo_pk}",
            p.diary_photo_url,
        )
        if path in photos and (response.status_code == 200):
            shown = ["the photo"]  # its bytes carry no text to look for
        if shown == [n] and 400 <= response.status_code < 500:
            twin_data = {k: ([UNKNOWN] if v == [n] else v) for k, v in data.items()}
            twin = getattr(session, method)(path.replace(n, UNKNOWN), twin_data, **headers)
            if twin.status_code == response.status_code and (
                body_of(twin).replace(UNKNOWN, n) == body
            ):
                shown = []
        if shown or response.status_code >= 500:
            found.append((method, path, response.status_code, shown))
    return found


def sessions(people: dict) -> dict[str, tuple[Client, str | None]]:
    """A logged-in browser session and an API token per role, opened up front."""
    result = {}
    for role, user in people.items():
        session = Client()
        key = None
        if user is not None:
            session.force_login(user)
            key = Token.objects.get_or_create(user=user)[0].key
        result[role] = (session, key)
    return result


@pytest.mark.parametrize("after_staff_change", [False, True], ids=["staffed", "restaffed"])
def test_no_channel_shows_street_bs_case_to_anyone_outside_it(
    probe, people, cast, territory, after_staff_change
):
    opened = sessions(people | ({"moved": cast.outsider} if after_staff_change else {}))
    if after_staff_change:
        staff_change(cast, territory)
    found = {}
    for role, (session, key) in opened.items():
        requests = channels(probe) + open311(probe, key)
        found[role] = leaks(probe, session, key, requests)
    assert {role: rows for role, rows in found.items() if rows} == {}
    # Nothing was done to the case through any of those doors.
    assert probe.case.timeline.count() == 1
    assert Case.objects.get(pk=probe.case.pk).state == probe.case.state


def test_the_probe_would_see_a_leak(probe, people, cast):
    # The same probe, run as street B's own dispatcher, finds B's data everywhere
    # it should be: a probe that cannot see anything proves nothing.
    session = Client()
    session.force_login(cast.outsider)
    key = Token.objects.create(user=cast.outsider).key
    found = leaks(probe, session, key, channels(probe) + open311(probe, key))
    paths = {path for _, path, _, shown in found if shown}
    n = probe.case.number
    assert {f"/cases/{n}/", f"/api/v1/cases/{n}/", f"/map/cases/{n}.json", probe.photo_url} <= paths
    assert "/cases/search/" in paths
    assert "/api/v1/cases/nearby/" in paths
    assert f"/open311/v2/requests/{n}.json" in paths
    # JSON escapes Chinese: the probe reads it decoded, or B's worker would pass unseen.
    cell_json = f"/map/cells/{probe.b_cell_pk}.json"
    assert any(path == cell_json and B_WORKER in shown for _, path, _, shown in found)
    assert {
        "/map/patrols.json",
        "/diary/",
        f"/diary/{probe.diary_pk}/",
        probe.diary_photo_url,
    } <= paths


def test_the_probe_would_see_street_bs_staffing(probe, territory):
    # Street B's own leader reads B's worker on every history page the probe tries.
    b_leader = make_user("b_leader")
    Post.objects.create(user=b_leader, role=Role.LEADER, street=territory.street_b)
    session = Client()
    session.force_login(b_leader)
    history = [r for r in channels(probe) if r[1].startswith("/territory/")]
    assert len(history) == 4
    for method, path, data in history:
        answer = getattr(session, method)(path, data)
        assert answer.status_code == 200 and B_WORKER in body_of(answer), path


def test_no_dashboard_outside_street_b_lists_its_overdue_case(probe, people, territory):
    from cases import services

    services.deadline_sweep(now=probe.case.step_due)  # red: on street B's overdue list
    requests = [("get", path, {}) for path in dashboard_paths(probe)]
    opened = sessions(people)
    found = {role: leaks(probe, session, key, requests) for role, (session, key) in opened.items()}
    assert {role: rows for role, rows in found.items() if rows} == {}
    assert opened["worker"][0].get("/dashboard/").status_code == 403
    # Street B's own leader finds it there: the probe could see it.
    b_leader = make_user("b_leader")
    Post.objects.create(user=b_leader, role=Role.LEADER, street=territory.street_b)
    session = Client()
    session.force_login(b_leader)
    assert probe.case.number in body_of(session.get("/dashboard/"))
    assert probe.case.number in body_of(session.get("/dashboard/report/"))


# ---- exports (a background job; its file is read back) ----------------------


@pytest.mark.usefixtures("reference_data", "export_worker")
def test_no_export_carries_street_bs_case():
    from tests.base import api, build_cast, build_territory, exported

    territory = build_territory()
    cast = build_cast(territory)
    b_case = report(cast.outsider, point=POINT_B1, description=DESCRIPTION)
    a_case = report(cast.worker)
    for user in (cast.leader, cast.coordinator, cast.dispatcher, cast.worker, cast.handler):
        for fmt in ("csv", "xlsx"):
            content = exported(api(user), fmt)
            text = content.decode("utf-8", "replace") if fmt == "csv" else _xlsx_text(content)
            assert b_case.number not in text and DESCRIPTION not in text, (user, fmt)
    assert a_case.number in _xlsx_text(exported(api(cast.leader), "xlsx"))
    # "Export these" on the search page, searching for B's text.
    for user in (cast.leader, cast.coordinator, cast.dispatcher, cast.worker, cast.handler):
        text = _exported_from_search(user, DESCRIPTION[:8]).decode("utf-8", "replace")
        assert b_case.number not in text and DESCRIPTION not in text, user
    assert b_case.number in _exported_from_search(cast.outsider, DESCRIPTION[:8]).decode()
    # Nor can anyone outside read another person's export.
    started = api(cast.outsider).post("/api/v1/exports/", {"format": "csv"}, format="json").json()
    assert api(cast.leader).get(started["status_url"]).status_code == 404
    assert api(cast.leader).get(started["status_url"] + "download/").status_code == 404


def _exported_from_search(user, text: str) -> bytes:
    """The CSV file that "Export these" on the search page makes for `user`."""
    from cases.models import Export
    from tests.base import wait_done

    session = Client()
    session.force_login(user)
    before = set(Export.objects.filter(user=user).values_list("pk", flat=True))
    started = session.post(f"/cases/search/export/?q={text}", {"format": "csv"})
    assert started.status_code == 302, started.status_code
    export = Export.objects.filter(user=user).exclude(pk__in=before).get()
    assert wait_done(session, f"/api/v1/exports/{export.pk}/")["status"] == "done"
    answer = session.get(f"/api/v1/exports/{export.pk}/download/")
    return b"".join(answer.streaming_content)


def _xlsx_text(content: bytes) -> str:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    return "\n".join(str(v) for row in sheet.values for v in row)


# ---- the live map's socket -----------------------------------------------------


async def _history(communicator) -> list[str]:
    await communicator.send_json_to({"type": "resume", "after": 0})
    numbers = []
    while (message := await communicator.receive_json_from(timeout=5))["type"] == "event":
        numbers.append(message["event"]["case"]["number"])
    assert message["type"] in ("caught_up", "reload")
    return numbers


@pytest.mark.usefixtures("reference_data")
@pytest.mark.parametrize("after_staff_change", [False, True], ids=["staffed", "restaffed"])
def test_no_socket_outside_street_b_hears_or_replays_its_cases(after_staff_change):
    from tests.base import build_cast, build_territory

    territory = build_territory()
    cast = build_cast(territory)
    street_mediator = make_user("street_mediator")
    Post.objects.create(user=street_mediator, role=Role.MEDIATOR, street=territory.street_a)
    people = {
        "leader": cast.leader, "coordinator": cast.coordinator, "dispatcher": cast.dispatcher,
        "mediator": cast.mediator, "street_mediator": street_mediator, "worker": cast.worker,
        "handler": cast.handler, "anonymous": None,
    }  # fmt: skip
    if after_staff_change:
        people["moved"] = cast.outsider
    opened = sessions(people)
    old_b = report(cast.outsider, point=POINT_B1, description=DESCRIPTION)

    async def scenario():
        sockets = {role: await map_socket(session) for role, (session, _) in opened.items()}
        assert sockets["anonymous"] is None
        del sockets["anonymous"]
        if after_staff_change:
            await database_sync_to_async(staff_change)(cast, territory)
            # The moved person's map is told to start again; others hear nothing of it.
            assert await sockets["moved"].receive_json_from(timeout=5) == {"type": "territory"}
        new_b = await database_sync_to_async(report)(cast.admin, point=POINT_B1)
        sentinel = await database_sync_to_async(report)(cast.worker)
        for role, socket in sockets.items():
            if role != "handler":  # a department's map has no street: it hears no live event
                message = await socket.receive_json_from(timeout=5)
                # Events arrive in order: A's sentinel first means B's never came.
                assert message["event"]["case"]["number"] == sentinel.number, role
            history = await _history(socket)
            assert old_b.number not in history and new_b.number not in history, role
            await socket.disconnect()

    async_to_sync(scenario)()
