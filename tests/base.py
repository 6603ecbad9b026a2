"""Two real-looking streets and a small named cast, shared by all tests.

Geometry (WGS-84, near Wuchang, Wuhan), each community a 0.01° × 0.01° square
cut into a 2×2 grid numbered west→east, north→south:

    street A (420106002): community A1 [114.30, 114.31] × [30.55, 30.56]
                          community A2 [114.31, 114.32] × [30.55, 30.56]
    street B (420106003): community B1 [114.30, 114.31] × [30.54, 30.55]
                          community B2 [114.31, 114.32] × [30.54, 30.55]

Street boundaries are a little larger than their communities, so a point can
fall in a street but in no community (the 属地兜底 fallback).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import MultiPolygon, Polygon

from grid.models import (
    CellAssignment,
    Community,
    Department,
    District,
    GridCell,
    Post,
    Role,
    Street,
)

User = get_user_model()


def box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    # Rounded so neighbours share exactly the same border coordinates.
    bbox = tuple(round(v, 6) for v in (x0, y0, x1, y1))
    return MultiPolygon(Polygon.from_bbox(bbox), srid=4326)


@dataclass
class Territory:
    district: District
    street_a: Street
    street_b: Street
    a1: Community
    a2: Community
    b1: Community
    b2: Community

    def cell(self, code: str) -> GridCell:
        return GridCell.objects.get(code=code)


def _community(street: Street, seq: int, name: str, x0: float, y0: float) -> Community:
    community = Community.objects.create(
        code=f"{street.code}{seq:03d}",
        name=name,
        street=street,
        boundary=box(x0, y0, x0 + 0.01, y0 + 0.01),
    )
    half = 0.005
    # North row first, west to east: 001 NW, 002 NE, 003 SW, 004 SE.
    origins = [(x0, y0 + half), (x0 + half, y0 + half), (x0, y0), (x0 + half, y0)]
    for n, (cx, cy) in enumerate(origins, start=1):
        GridCell.objects.create(
            code=f"{community.code}{n:03d}",
            name=f"{name}第{n}网格",
            community=community,
            boundary=box(cx, cy, cx + half, cy + half),
            households=400,
            population=1100,
        )
    return community


def build_territory() -> Territory:
    district = District.objects.create(
        code="420106", name="武昌区", boundary=box(114.29, 30.53, 114.33, 30.57)
    )
    street_a = Street.objects.create(
        code="420106002",
        name="杨园街道",
        district=district,
        boundary=box(114.295, 30.55, 114.325, 30.565),
    )
    street_b = Street.objects.create(
        code="420106003",
        name="徐家棚街道",
        district=district,
        boundary=box(114.295, 30.535, 114.325, 30.55),
    )
    return Territory(
        district=district,
        street_a=street_a,
        street_b=street_b,
        a1=_community(street_a, 1, "和平社区", 114.30, 30.55),
        a2=_community(street_a, 2, "新河社区", 114.31, 30.55),
        b1=_community(street_b, 1, "杨园社区", 114.30, 30.54),
        b2=_community(street_b, 2, "铁机社区", 114.31, 30.54),
    )


@dataclass
class Cast:
    """worker (cell A1-001), worker2 (A1-001 too), dispatcher and mediator of
    community A1, coordinator, leader and handler of street A, and outsider
    (dispatcher of community B1)."""

    worker: User
    worker2: User
    dispatcher: User
    mediator: User
    coordinator: User
    leader: User
    handler: User
    outsider: User
    admin: User
    department: Department


@functools.cache
def password_hash() -> str:
    # Hashing costs ~0.3 s by design; the cast shares one hash of "password".
    return make_password("password")


def make_user(username: str, **fields) -> User:
    return User.objects.create(username=username, password=password_hash(), **fields)


def _user(username: str, role: str, **unit) -> User:
    user = make_user(username, first_name=username)
    Post.objects.create(user=user, role=role, **unit)
    return user


def build_cast(t: Territory) -> Cast:
    department = Department.objects.create(name="杨园城管中队", kind="城管", street=t.street_a)
    worker = _user("worker", Role.GRID_WORKER, community=t.a1)
    worker2 = _user("worker2", Role.GRID_WORKER, community=t.a1)
    cell = t.cell(f"{t.a1.code}001")
    CellAssignment.objects.create(worker=worker, cell=cell)
    CellAssignment.objects.create(worker=worker2, cell=cell)
    return Cast(
        worker=worker,
        worker2=worker2,
        dispatcher=_user("dispatcher", Role.DISPATCHER, community=t.a1),
        mediator=_user("mediator", Role.MEDIATOR, community=t.a1),
        coordinator=_user("coordinator", Role.COORDINATOR, street=t.street_a),
        leader=_user("leader", Role.LEADER, street=t.street_a),
        handler=_user("handler", Role.HANDLER, department=department),
        outsider=_user("outsider", Role.DISPATCHER, community=t.b1),
        admin=make_user("admin", is_superuser=True, is_staff=True),
        department=department,
    )


# A point inside cell 420106002001001 (community A1, street A).
POINT_A1_001 = (114.302, 30.558)
POINT_B1 = (114.302, 30.548)


def category(code: str):
    from cases.models import Category

    return Category.objects.get(code=code)


def report(actor, *, code: str = "0401", point=POINT_A1_001, **kwargs):
    """Report a case through the service, as `actor` would from the phone."""
    from cases import services
    from cases.models import Source

    kwargs.setdefault("description", "楼道堆放大量杂物")
    kwargs.setdefault("source", Source.GRID_WORKER)
    return services.case_report(actor=actor, category=category(code), location=point, **kwargs).case


def logged_in(user):
    """A browser session of `user` (Django's test client, logged in)."""
    from django.test import Client

    session = Client()
    session.force_login(user)
    return session


async def map_socket(session):
    """The live map's socket for a session, through the whole stack (origin check,
    session cookie, router), after its hello; None when the server refuses it."""
    from channels.testing import WebsocketCommunicator

    from project.asgi import application

    headers = [(b"origin", b"http://127.0.0.1")]
    if cookie := session.cookies.get("sessionid"):
        headers.append((b"cookie", f"sessionid={cookie.value}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/map/", headers=headers)
    ok, _ = await communicator.connect()
    if not ok:
        return None
    first = await communicator.receive_output()
    if first["type"] == "websocket.close":  # accepted, then refused with its reason
        return None
    assert json.loads(first["text"])["type"] == "hello"
    return communicator


def jpeg(size: tuple[int, int] = (8, 8), color: str = "red"):
    """A small real JPEG upload."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")


def api(user, language: str = "en"):
    """An API client with `user`'s token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE=language)
    return client


def body(**overrides) -> dict:
    """A report's API body at a point of cell A1-001."""
    lon, lat = POINT_A1_001
    return {"category": "0401", "description": "垃圾堆放", "lon": lon, "lat": lat} | overrides


def wait_for(condition, seconds: float = 30, step: float = 0.2) -> None:
    """Wait until `condition()` holds (checked every `step`), or fail after `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)


def wait_done(client, url: str) -> dict:
    """Poll an export's status URL until it is done or failed (a condition, not a sleep)."""
    answers = []

    def finished() -> bool:
        answers.append(client.get(url).json())
        return answers[-1]["status"] in ("done", "failed")

    wait_for(finished, seconds=120)
    return answers[-1]


def exported(client, fmt: str) -> bytes:
    """Start an export of everything the client's user sees and return its file."""
    started = client.post("/api/v1/exports/", {"format": fmt}, format="json").json()
    answer = wait_done(client, started["status_url"])
    assert answer["status"] == "done"
    return b"".join(client.get(answer["download"]).streaming_content)


def at_once(call, n: int = 2) -> list:
    """Run `call` in n threads released together (each on its own connection);
    what each returned. A thread that raised leaves its result out."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(n)
    results: list = []

    def run():
        try:
            barrier.wait()
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
