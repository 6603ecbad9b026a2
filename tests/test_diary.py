"""The work diary (民情日志) from the phone: written once, with photos, in the right
community, refused with a reason; read by that community's staff and nobody else."""

from __future__ import annotations

import pytest

from diary.models import DiaryEntry, DiaryPhoto
from tests.base import POINT_A1_001, POINT_B1, api, jpeg

VISIT = "2026-12-01T10:30:00+08:00"


def entry(client_id: str = "d-1", **overrides) -> dict:
    return {
        "client_id": client_id,
        "visited_at": VISIT,
        "text": "走访独居老人王大爷，身体尚好",
    } | overrides


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_entry_with_photos_is_written_once_in_the_community_of_its_position(
    cast, territory, media
):
    client = api(cast.worker)
    lon, lat = POINT_A1_001
    sent = entry(lon=lon, lat=lat, place="和平里3栋201", photos=[jpeg(), jpeg(color="blue")])
    first = client.post("/api/v1/diary/", sent, format="multipart")
    assert first.status_code == 201, first.json()
    got = first.json()
    assert (got["created"], got["community"], got["community_name"]) == (
        True,
        territory.a1.code,
        "和平社区",
    )
    assert len(got["photos"]) == 2
    again = client.post(
        "/api/v1/diary/", entry(lon=lon, lat=lat, photos=[jpeg()]), format="multipart"
    )
    assert (again.status_code, again.json()["created"], again.json()["id"]) == (
        200,
        False,
        got["id"],
    )
    assert DiaryEntry.objects.count() == 1
    assert DiaryPhoto.objects.count() == 2
    photo = client.get(got["photos"][0]["url"])
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/jpeg"


def test_without_a_position_the_entry_belongs_to_the_workers_cell(cast, territory):
    got = api(cast.worker).post("/api/v1/diary/", entry(), format="multipart").json()
    assert got["community"] == territory.a1.code
    assert DiaryEntry.objects.get().cell.code == "420106002001001"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"text": "   "}, "Write what you saw"),
        ({"text": "字" * 1001}, "1,000 characters"),
        ({"lon": POINT_B1[0], "lat": POINT_B1[1]}, "outside your territory"),
        ({"lon": POINT_A1_001[0]}, "both longitude and latitude"),
        ({"photos": [jpeg() for _ in range(7)]}, "At most 6 photos"),
        ({"visited_at": "yesterday"}, "format"),
        ({"visited_at": "0001-01-01T00:00:00+00:00"}, "phone's clock"),
        ({"visited_at": "2099-12-01T10:30:00+08:00"}, "phone's clock"),
    ],
)
def test_a_bad_entry_is_refused_with_its_reason_and_writes_nothing(cast, change, reason, media):
    refused = api(cast.worker).post("/api/v1/diary/", entry(**change), format="multipart")
    assert refused.status_code == 400
    assert reason in refused.json()["detail"], refused.json()
    assert not DiaryEntry.objects.exists()
    assert not DiaryPhoto.objects.exists()


def test_a_file_that_is_not_an_image_is_refused(cast, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("p.jpg", b"not a picture", content_type="image/jpeg")
    refused = api(cast.worker).post("/api/v1/diary/", entry(photos=[fake]), format="multipart")
    assert refused.status_code == 400
    assert "is not an image" in refused.json()["detail"]
    assert not DiaryEntry.objects.exists()


def test_only_grid_workers_keep_a_diary(cast):
    assert api(cast.leader).post("/api/v1/diary/", entry(), format="multipart").status_code == 403
    assert not DiaryEntry.objects.exists()


def test_my_diary_lists_my_entries_newest_visit_first(cast):
    client = api(cast.worker)
    client.post(
        "/api/v1/diary/", entry("old", visited_at="2026-11-30T09:00:00+08:00"), format="multipart"
    )
    client.post("/api/v1/diary/", entry("new"), format="multipart")
    api(cast.worker2).post("/api/v1/diary/", entry("theirs"), format="multipart")
    mine = client.get("/api/v1/diary/mine/").json()["results"]
    assert [e["client_id"] for e in mine] == ["new", "old"]


def test_a_photo_is_served_only_inside_the_territory(cast, media):
    got = api(cast.worker).post("/api/v1/diary/", entry(photos=[jpeg()]), format="multipart").json()
    url = got["photos"][0]["url"]
    assert api(cast.dispatcher).get(url).status_code == 200
    assert api(cast.outsider).get(url).status_code == 404


# ---- the desk: searching the diary --------------------------------------------


@pytest.fixture
def diary(cast, territory, media):
    """Three entries in community A1 by two workers over two days, one in street B."""
    from grid.models import Post, Role
    from tests.base import make_user

    a = api(cast.worker)
    a.post(
        "/api/v1/diary/", entry("a", text="王大爷家水管漏水", place="和平里3栋"), format="multipart"
    )
    a.post(
        "/api/v1/diary/",
        entry("b", text="李阿姨反映楼道灯坏", visited_at="2026-11-28T10:00:00+08:00"),
        format="multipart",
    )
    api(cast.worker2).post("/api/v1/diary/", entry("c", text="走访低保户张某"), format="multipart")
    b_worker = make_user("b_worker", first_name="孙乙网格")
    Post.objects.create(user=b_worker, role=Role.GRID_WORKER, community=territory.b1)
    lon, lat = POINT_B1
    api(b_worker).post(
        "/api/v1/diary/", entry("d", text="徐家棚的机密走访", lon=lon, lat=lat), format="multipart"
    )


def texts(user, **query) -> list[str]:
    from tests.base import logged_in

    page = logged_in(user).get("/diary/", query)
    assert page.status_code == 200
    body = page.content.decode()
    found = [e.text for e in DiaryEntry.objects.all() if e.text in body]
    return sorted(found)


def test_the_communitys_staff_search_its_diary_by_text_worker_and_date(cast, diary):
    assert texts(cast.dispatcher) == ["李阿姨反映楼道灯坏", "王大爷家水管漏水", "走访低保户张某"]
    assert texts(cast.dispatcher, q="水管") == ["王大爷家水管漏水"]
    assert texts(cast.dispatcher, q="和平里") == ["王大爷家水管漏水"]
    assert texts(cast.dispatcher, worker=cast.worker2.pk) == ["走访低保户张某"]
    assert texts(cast.dispatcher, since="2026-11-27", until="2026-11-28") == ["李阿姨反映楼道灯坏"]
    assert texts(cast.leader) == ["李阿姨反映楼道灯坏", "王大爷家水管漏水", "走访低保户张某"]


def test_nobody_outside_the_community_reads_its_diary(cast, territory, diary):
    from tests.base import logged_in

    assert texts(cast.outsider) == ["徐家棚的机密走访"]
    assert texts(cast.handler) == []
    a1 = DiaryEntry.objects.get(client_id="a")
    assert logged_in(cast.outsider).get(f"/diary/{a1.pk}/").status_code == 404
    assert (
        logged_in(cast.outsider).get("/diary/", {"community": territory.a1.pk}).status_code == 200
    )
    assert texts(cast.outsider, community=territory.a1.pk) == []


def test_an_entry_shows_its_text_and_photos(cast, diary):
    from tests.base import logged_in

    got = (
        api(cast.worker)
        .post(
            "/api/v1/diary/",
            entry("with-photo", text="拍了照片", photos=[jpeg()]),
            format="multipart",
        )
        .json()
    )
    page = logged_in(cast.dispatcher).get(f"/diary/{got['id']}/").content.decode()
    assert "拍了照片" in page
    assert got["photos"][0]["url"].replace("http://testserver", "") in page


def test_a_bad_date_in_the_search_says_so(cast, diary):
    from tests.base import logged_in

    page = logged_in(cast.dispatcher).get("/diary/", {"since": "28/11/2026"}).content.decode()
    assert "YYYY-MM-DD" in page


def test_the_diary_speaks_chinese_by_default_and_english_on_request(cast, diary):
    from tests.base import logged_in

    session = logged_in(cast.dispatcher)
    assert "走访户或地址" in session.get("/diary/").content.decode()
    session.cookies["django_language"] = "en"
    assert "Household or address" in session.get("/diary/").content.decode()


def test_two_retries_arriving_at_once_write_exactly_one_entry(reference_data):
    from datetime import datetime

    from diary.services import diary_record
    from tests.base import at_once, build_cast, build_territory

    cast = build_cast(build_territory())
    results = at_once(
        lambda: diary_record(
            author=cast.worker,
            client_id="racing",
            visited_at=datetime.fromisoformat(VISIT),
            text="同时重发",
        )
    )
    assert len(results) == 2
    assert sorted(r.created for r in results) == [False, True]
    assert {r.entry.pk for r in results} == {DiaryEntry.objects.get().pk}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_date_out_of_range_in_the_search_says_so(cast, diary, day):
    from django.utils import translation

    from tests.base import logged_in

    for name in ("since", "until"):
        page = logged_in(cast.dispatcher).get("/diary/", {name: day})
        assert page.status_code == 200
        with translation.override("zh-hans"):
            assert translation.gettext("Choose a date between 2000 and 2100.") in (
                page.content.decode()
            )


@pytest.mark.parametrize("value", ["²", "9" * 30])
def test_a_community_or_worker_that_is_no_id_is_ignored_by_the_search(cast, diary, value):
    assert texts(cast.dispatcher, community=value, worker=value) == [
        "李阿姨反映楼道灯坏",
        "王大爷家水管漏水",
        "走访低保户张某",
    ]


def test_a_worker_who_moved_away_still_sees_the_photos_of_their_own_entries(cast, territory, media):
    from core import sharedstate
    from grid.models import CellAssignment, Post, Role

    got = api(cast.worker).post("/api/v1/diary/", entry(photos=[jpeg()]), format="multipart")
    url = got.json()["photos"][0]["url"]
    # Moved to street B: my diary still lists the entry, so its photo must show.
    Post.objects.filter(user=cast.worker).delete()
    CellAssignment.objects.filter(worker=cast.worker).delete()
    Post.objects.create(user=cast.worker, role=Role.GRID_WORKER, community=territory.b1)
    sharedstate.clear_all()
    mine = api(cast.worker).get("/api/v1/diary/mine/").json()["results"]
    assert [p["url"] for p in mine[0]["photos"]] == [url]
    assert api(cast.worker).get(url).status_code == 200
    assert api(cast.outsider).get(url).status_code == 404
