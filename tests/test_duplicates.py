"""Possible duplicates offered at triage: near in metres on both databases, and
never across a street border."""

from __future__ import annotations

from cases import services
from tests.base import report

# Both in cell A1-003, 20 m apart (1° of latitude is ~111 km).
NEAR_A = (114.302, 30.5503)
TWENTY_METRES_NORTH = (114.302, 30.5503 + 20 / 111_320)
# Community B1, street B: 55 m south of NEAR_A, across the street border at 30.55.
ACROSS_THE_BORDER = (114.302, 30.5498)
# 150 m east of NEAR_A, still in community A1.
TOO_FAR = (114.302 + 150 / 95_900, 30.5503)


def test_a_case_twenty_metres_away_is_offered(cast):
    first = report(cast.dispatcher, point=NEAR_A)
    second = report(cast.dispatcher, point=TWENTY_METRES_NORTH)
    offered = list(services.find_duplicates(second, viewer=cast.dispatcher))
    assert offered == [first]
    assert 15 < offered[0].distance.m < 25


def test_a_case_further_than_a_hundred_metres_is_not_offered(cast):
    report(cast.dispatcher, point=TOO_FAR)
    second = report(cast.dispatcher, point=NEAR_A)
    assert list(services.find_duplicates(second, viewer=cast.dispatcher)) == []


def test_another_streets_case_across_the_border_is_never_offered(cast):
    theirs = report(cast.outsider, point=ACROSS_THE_BORDER)
    ours = report(cast.dispatcher, point=NEAR_A)
    assert list(services.find_duplicates(ours, viewer=cast.dispatcher)) == []
    # The district administrator sees both streets, and so both cases.
    assert list(services.find_duplicates(ours, viewer=cast.admin)) == [theirs]


def test_the_triage_screen_shows_no_case_from_across_the_border(client, cast):
    theirs = report(cast.outsider, point=ACROSS_THE_BORDER, description="徐家棚的纠纷")
    ours = report(cast.dispatcher, point=NEAR_A)
    client.force_login(cast.dispatcher)
    body = client.get(f"/cases/{ours.number}/").content.decode()
    assert theirs.number not in body and "徐家棚的纠纷" not in body
