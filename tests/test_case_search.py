"""The case search page: desk users and leaders filter, search, sort and page through
their territory's cases, and export what they found."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cases.models import Case, Export, State
from cases.search import CappedPaginator
from tests.base import POINT_A1_001, POINT_B1, logged_in, report

SHANGHAI = ZoneInfo("Asia/Shanghai")
POINT_A1_002 = (114.307, 30.558)  # cell 420106002001002, community A1
POINT_A2 = (114.312, 30.558)  # community A2


class Sample:
    """Three cases of street A that differ in every filter, and one of street B."""

    def __init__(self, cast, territory):
        now = timezone.now()
        self.leak = report(
            cast.dispatcher,
            code="0201",
            description="楼上住户卫生间漏水至楼下",
            address="和平大道123号",
            source="hotline",
            urgency="emergency",
        )
        self.clutter = report(
            cast.dispatcher,
            code="0401",
            point=POINT_A2,
            description="楼道堆放杂物，堵塞消防通道",
            address="友谊大道8号",
        )
        self.noise = report(
            cast.dispatcher,
            code="0403",
            point=POINT_A1_002,
            description="夜间施工噪声扰民",
            address="中山路5号",
            source="walk_in",
            urgency="complex",
        )
        self.b_leak = report(cast.outsider, code="0201", point=POINT_B1, description="楼道漏水")
        Case.objects.filter(pk=self.leak.pk).update(
            reported_at=datetime(2026, 10, 1, 10, tzinfo=SHANGHAI), step_due=now + timedelta(3)
        )
        Case.objects.filter(pk=self.clutter.pk).update(
            state=State.ONSITE,
            supervised=True,
            deadline_state="red",
            # 00:30 in Shanghai on 15 November is still the 14th in UTC.
            reported_at=datetime(2026, 11, 15, 0, 30, tzinfo=SHANGHAI),
            step_due=now - timedelta(1),
        )
        Case.objects.filter(pk=self.noise.pk).update(
            state=State.DEPARTMENT,
            department=cast.department,
            reopen_count=1,
            deadline_state="yellow",
            step_due=now + timedelta(1),
        )

    def names(self, numbers: list[str]) -> list[str]:
        by_number = {c.number: name for name, c in vars(self).items()}
        return [by_number.get(n, n) for n in numbers]


@pytest.fixture
def sample(cast, territory) -> Sample:
    return Sample(cast, territory)


def listed(response) -> list[str]:
    """The case numbers in the results table, in the order shown."""
    html = response.content.decode()
    if 'id="search-results"' not in html:
        return []
    table = html.split('id="search-results"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/cases/([^/"]+)/"', table)


def search(user, **params):
    return logged_in(user).get("/cases/search/", params)


def test_it_lists_every_case_of_the_territory_newest_first(cast, sample):
    response = search(cast.leader)
    assert response.status_code == 200
    assert sample.names(listed(response)) == ["noise", "clutter", "leak"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"state": "onsite"}, {"clutter"}),
        ({"state": "triage"}, {"leak"}),
        ({"group": "04"}, {"clutter", "noise"}),
        ({"category": "0403"}, {"noise"}),
        ({"group": "04", "category": "0401"}, {"clutter"}),
        ({"urgency": "emergency"}, {"leak"}),
        ({"urgency": "complex"}, {"noise"}),
        ({"community": "420106002002"}, {"clutter"}),
        ({"cell": "420106002001002"}, {"noise"}),
        ({"community": "420106002001", "cell": "420106002001002"}, {"noise"}),
        ({"deadline": "overdue"}, {"clutter"}),
        ({"deadline": "due_soon"}, {"noise"}),
        ({"supervised": "yes"}, {"clutter"}),
        ({"supervised": "no"}, {"leak", "noise"}),
        ({"reopened": "yes"}, {"noise"}),
        ({"reopened": "no"}, {"leak", "clutter"}),
        ({"source": "hotline"}, {"leak"}),
        ({"source": "walk_in"}, {"noise"}),
        ({"since": "2026-11-15", "until": "2026-11-15"}, {"clutter"}),
        ({"until": "2026-11-14"}, {"leak"}),
        ({"since": "2026-11-16"}, {"noise"}),
    ],
)
def test_each_filter_narrows_the_list(cast, sample, params, expected):
    assert set(sample.names(listed(search(cast.leader, **params)))) == expected


def test_the_department_filter(cast, sample):
    listed_ = listed(search(cast.leader, department=cast.department.pk))
    assert sample.names(listed_) == ["noise"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("漏水", ["leak"]),  # inside the description, not street B's
        ("卫生间", ["leak"]),
        ("平大道", ["leak"]),  # part of an address
        ("友谊", ["clutter"]),
        ("消防通道", ["clutter"]),
        ("楼", ["leak", "clutter"]),  # one character
    ],
)
def test_it_finds_chinese_text_inside_descriptions_and_addresses(cast, sample, text, expected):
    assert sorted(sample.names(listed(search(cast.leader, q=text)))) == sorted(expected)


def test_it_finds_a_case_by_part_of_its_number(cast, sample):
    fragment = "-" + sample.clutter.number.rsplit("-", 1)[1]
    assert sample.names(listed(search(cast.leader, q=fragment))) == ["clutter"]
    assert sample.names(listed(search(cast.leader, q=sample.noise.number.lower()))) == ["noise"]


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("newest", ["noise", "clutter", "leak"]),
        ("oldest", ["leak", "clutter", "noise"]),
        ("due", ["clutter", "noise", "leak"]),
        ("number", ["leak", "clutter", "noise"]),
    ],
)
def test_it_sorts(cast, sample, sort, expected):
    assert sample.names(listed(search(cast.leader, sort=sort))) == expected


def test_it_shows_readable_columns(cast, sample):
    html = search(cast.leader, q="漏水").content.decode()
    row = html.split('id="search-results"', 1)[1]
    # zh-Hans by default: Chinese labels, names not codes, Shanghai time, the deadline colour.
    assert "待受理" in row or "Awaiting triage" not in row
    assert "物业/房屋 · 房屋漏水" in row
    assert "和平社区" in row and "和平社区第1网格" in row
    assert "2026-10-01 10:00" in row
    assert "deadline-green" in row


def test_pages_carry_counts_and_the_filters(cast, territory):
    for i in range(55):
        report(cast.dispatcher, description=f"楼道杂物{i}")
    report(cast.dispatcher, description="别的事")
    session = logged_in(cast.leader)
    first = session.get("/cases/search/", {"q": "杂物"})
    assert len(listed(first)) == 50
    assert "55" in first.content.decode().split('id="search-count"', 1)[1].split("</p>", 1)[0]
    second_url = re.search(r'href="(\?[^"]*page=2[^"]*)"', first.content.decode()).group(1)
    second = session.get("/cases/search/" + second_url.replace("&amp;", "&"))
    assert len(listed(second)) == 5
    assert not set(listed(first)) & set(listed(second))


def test_past_the_count_cap_it_says_more_than_and_how_to_see_the_rest(cast, territory, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 5)
    numbers = [report(cast.dispatcher, description=f"杂物{i}").number for i in range(8)]
    session = logged_in(cast.leader)
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    page = session.get("/cases/search/", {"sort": "number"}, **english)
    count = page.content.decode().split('id="search-count"', 1)[1].split("</p>", 1)[0]
    assert "More than 5 cases" in count and "export them all" in count
    assert listed(page) == numbers[:5]
    exact = session.get("/cases/search/", {"q": "杂物1"}, **english).content.decode()
    assert ">1 case ·" in exact


def test_an_outsider_sees_none_of_street_as_cases(cast, sample):
    assert listed(search(cast.outsider)) == [sample.b_leak.number]
    assert listed(search(cast.outsider, q="漏水")) == [sample.b_leak.number]
    assert listed(search(cast.leader, q=sample.b_leak.number)) == []


def test_the_filters_offer_only_the_territorys_units(cast, sample, territory):
    html = search(cast.leader).content.decode()
    assert "和平社区" in html and "新河社区" in html
    assert "杨园社区" not in html and "铁机社区" not in html  # street B's communities
    assert territory.b1.code not in html
    assert "杨园城管中队" in html
    outsider_page = search(cast.outsider).content.decode()
    assert "杨园城管中队" not in outsider_page and territory.a1.code not in outsider_page


@pytest.mark.parametrize(
    "params, field",
    [
        ({"community": "420106003001"}, "community"),  # street B's
        ({"cell": "420106003001001"}, "cell"),  # street B's
        ({"community": "420106002002", "cell": "420106002001001"}, "cell"),  # not in A2
        ({"department": "999999"}, "department"),
        ({"state": "bogus"}, "state"),
        ({"category": "0499"}, "category"),
        ({"group": "0401"}, "group"),  # a kind, not a group
        ({"deadline": "tomorrow"}, "deadline"),
        ({"supervised": "maybe"}, "supervised"),
        ({"since": "2026-13-45"}, "since"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "until"),
        ({"sort": "-password"}, "sort"),
        ({"q": "字" * 101}, "q"),
    ],
)
def test_bad_filters_are_a_form_error_and_list_nothing(cast, sample, params, field):
    response = search(cast.leader, **params)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="errorlist' in response.content.decode()
    assert listed(response) == []


def test_the_page_needs_a_login(client, sample):
    response = client.get("/cases/search/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def _page_queries(session, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit):
        response = session.get("/cases/search/", {"group": "04", "sort": "due"})
    assert response.status_code == 200
    return listed(response)


def test_the_page_takes_the_same_few_queries_for_3_or_40_cases(
    cast, sample, django_assert_max_num_queries
):
    session = logged_in(cast.leader)
    session.get("/cases/search/")  # the territory and reference data are cached from here
    # The session, its user, the communities and departments offered, the count,
    # the bell and the page's rows.
    assert len(_page_queries(session, django_assert_max_num_queries, 7)) == 2
    for i in range(38):
        report(cast.dispatcher, code="0404", point=POINT_A1_001, description=f"绿化{i}")
    assert len(_page_queries(session, django_assert_max_num_queries, 7)) == 40


# ---- the API's list applies the same filters ------------------------------------


def test_the_api_list_has_the_same_filters(cast, sample):
    from tests.base import api

    client = api(cast.leader)

    def numbers(**params):
        answer = client.get("/api/v1/cases/", params)
        assert answer.status_code == 200, answer.json()
        return sorted(sample.names([c["number"] for c in answer.json()["results"]]))

    assert numbers(q="漏水") == ["leak"]
    assert numbers(urgency="complex", reopened="true") == ["noise"]
    assert numbers(supervised="true", overdue="true") == ["clutter"]
    assert numbers(due_soon="true", department=cast.department.pk) == ["noise"]
    assert numbers(source="hotline") == ["leak"]
    assert numbers(category="04") == ["clutter", "noise"]
    assert client.get("/api/v1/cases/", {"urgency": "soon"}).status_code == 400


# ---- export these ----------------------------------------------------------------


@pytest.mark.usefixtures("reference_data", "export_worker")
def test_export_these_exports_exactly_the_search_and_my_exports_shows_it():
    import csv
    import io

    from tests.base import build_cast, build_territory, wait_done

    territory = build_territory()
    cast = build_cast(territory)
    sample = Sample(cast, territory)
    session = logged_in(cast.leader)
    page = session.get("/cases/search/", {"group": "04", "q": "楼道"}).content.decode()
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*id="export-these"', page)
    started = session.post(action.group(1).replace("&amp;", "&"), {"format": "csv"})
    assert started.status_code == 302 and started["Location"] == "/cases/exports/"

    export = Export.objects.get(user=cast.leader)
    assert export.format == "csv" and export.total == 1
    assert export.filters == {"group": "04", "q": "楼道"}
    listing = session.get("/cases/exports/").content.decode()
    assert 'id="exports"' in listing and "group=04" in listing

    status = wait_done(session, f"/api/v1/exports/{export.pk}/")
    assert status["status"] == "done"
    listing = session.get("/cases/exports/").content.decode()
    download = re.search(r'href="(/api/v1/exports/\d+/download/)"', listing).group(1)
    answer = session.get(download)  # the session's login is enough
    assert answer.status_code == 200
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    numbers = [row[0] for row in list(csv.reader(io.StringIO(text)))[1:]]
    assert numbers == [sample.clutter.number]
    # Nobody else's exports are listed, and nobody else downloads this one.
    assert 'id="exports"' not in logged_in(cast.outsider).get("/cases/exports/").content.decode()
    assert logged_in(cast.outsider).get(download).status_code == 404


def test_export_these_with_bad_filters_or_format_starts_nothing(cast, sample):
    session = logged_in(cast.leader)
    bad_filter = session.post("/cases/search/export/?state=bogus", {"format": "csv"})
    bad_format = session.post("/cases/search/export/?state=triage", {"format": "pdf"})
    assert bad_filter.status_code == bad_format.status_code == 400
    assert not Export.objects.exists()
    assert session.get("/cases/search/export/").status_code == 405


def test_my_exports_shows_progress_and_a_failures_reason_without_a_download(cast):
    Export.objects.create(user=cast.leader, format="xlsx", status="running", total=10, done=3)
    Export.objects.create(user=cast.leader, format="csv", status="failed", error="磁盘已满")
    Export.objects.create(user=cast.outsider, format="csv", status="failed", error="别人的导出")
    html = logged_in(cast.leader).get("/cases/exports/").content.decode()
    rows = html.split('id="exports"', 1)[1]
    assert "3 / 10" in rows and "磁盘已满" in rows
    assert "别人的导出" not in rows
    assert "/download/" not in rows
    assert 'http-equiv="refresh"' in html  # it refreshes itself while one is running


def test_a_date_no_office_record_can_have_is_a_form_error(cast, sample):
    session = logged_in(cast.leader)
    for bad in ("until=9999-12-31", "since=0001-01-01"):
        page = session.get(f"/cases/search/?{bad}", HTTP_ACCEPT_LANGUAGE="en")
        assert page.status_code == 400
        assert "Choose a date between 2000 and 2100." in page.content.decode()
        export = session.post(f"/cases/search/export/?{bad}", {"format": "csv"})
        assert export.status_code == 400
