"""Open311 GeoReport v2, checked field by field against the specification, JSON and XML."""

import re
import xml.etree.ElementTree as ET

import pytest
from rest_framework.authtoken.models import Token

from cases import services
from cases.models import Case
from tests.base import POINT_A1_001, POINT_B1, report

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture
def key(cast) -> str:
    return Token.objects.create(user=cast.worker).key


def post(client, fmt: str, **data):
    # Messages follow Accept-Language; Chinese without it.
    return client.post(f"/open311/v2/requests.{fmt}", data, HTTP_ACCEPT_LANGUAGE="en")


def new_request(key, **overrides) -> dict:
    lon, lat = POINT_A1_001
    return {
        "api_key": key,
        "service_code": "0401",
        "lat": lat,
        "long": lon,
        "description": "楼道堆物",
        "first_name": "六",
        "last_name": "赵",
    } | overrides


def test_discovery_in_json_and_xml(client, db):
    data = client.get("/open311/v2/discovery.json").json()
    assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = data["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert endpoint["formats"] == ["application/json", "text/xml"]
    root = ET.fromstring(client.get("/open311/v2/discovery.xml").content)
    assert root.tag == "discovery"
    assert root.find("endpoints/endpoint/formats/format").text == "application/json"


def test_services_list_our_categories(client, db):
    services_json = client.get("/open311/v2/services.json").json()
    by_code = {s["service_code"]: s for s in services_json}
    assert set(by_code["0101"]) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert by_code["0101"]["service_name"] == "邻里纠纷"
    assert by_code["0101"]["metadata"] is True and by_code["0401"]["metadata"] is False
    assert by_code["0401"]["type"] == "realtime"
    assert "01" not in by_code  # groups are not services
    root = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert root.tag == "services"
    codes = [s.find("service_code").text for s in root.findall("service")]
    assert codes == [s["service_code"] for s in services_json]
    assert root.find("service/metadata").text in ("true", "false")


def test_a_service_definition_lists_its_attributes(client, db):
    data = client.get("/open311/v2/services/0303.json").json()
    assert data["service_code"] == "0303"
    (attribute,) = data["attributes"]
    assert {
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    } <= set(attribute)
    assert attribute["datatype"] == "singlevaluelist"
    assert [v["key"] for v in attribute["values"]] == ["false", "true"]
    root = ET.fromstring(client.get("/open311/v2/services/0303.xml").content)
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/values/value/key").text == "false"
    missing = client.get("/open311/v2/services/9898.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "No service 9898."}]


def test_posting_a_request_makes_an_ordinary_case(client, key):
    response = post(client, "json", **new_request(key))
    assert response.status_code == 201
    (row,) = response.json()
    assert set(row) == {"service_request_id", "service_notice", "account_id"}
    case = Case.objects.get(number=row["service_request_id"])
    assert case.source == "api"
    assert case.cell.code == "420106002001001"
    assert case.reporter_name == "赵 六"
    assert case.timeline.get().action == "reported"


def test_posting_in_xml_and_with_attributes(client, key):
    response = post(
        client,
        "xml",
        **new_request(key, service_code="0303", **{"attribute[major_hazard]": "true"}),
    )
    root = ET.fromstring(response.content)
    number = root.find("request/service_request_id").text
    assert Case.objects.get(number=number).major_hazard
    dispute = post(
        client,
        "json",
        **new_request(key, service_code="0101", **{"attribute[parties]": "张三, 李四"}),
    )
    case = Case.objects.get(number=dispute.json()[0]["service_request_id"])
    assert sorted(case.parties.values_list("name", flat=True)) == ["张三", "李四"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"api_key": "nope"}, "api_key is not valid"),
        ({"api_key": ""}, "api_key is required"),
        ({"service_code": "9898"}, "service_code"),
        ({"lat": "north"}, "lat and long"),
        ({"long": 116.397, "lat": 39.909}, "outside the territory"),
        ({"description": "长" * 4001}, "longer than 4000"),
    ],
)
def test_bad_requests_get_the_spec_error_list_and_write_nothing(client, key, overrides, message):
    for fmt in ("json", "xml"):
        response = post(client, fmt, **new_request(key, **overrides))
        assert response.status_code == 400
        if fmt == "json":
            (error,) = response.json()
            assert error["code"] == 400 and message in error["description"]
        else:
            root = ET.fromstring(response.content)
            assert root.tag == "errors"
            assert root.find("error/code").text == "400"
            assert message in root.find("error/description").text
    assert Case.objects.count() == 0


def test_get_requests_field_by_field(client, cast, key):
    case = report(cast.worker)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    rows = client.get("/open311/v2/requests.json", {"api_key": key}).json()
    (row,) = rows
    assert list(row) == REQUEST_FIELDS
    assert row["service_request_id"] == case.number
    assert row["status"] == "open"
    assert row["status_notes"].startswith("onsite")
    assert ISO_WITH_ZONE.match(row["requested_datetime"])
    assert row["requested_datetime"].endswith("+08:00")
    assert (row["long"], row["lat"]) == pytest.approx(POINT_A1_001)
    root = ET.fromstring(client.get("/open311/v2/requests.xml", {"api_key": key}).content)
    assert root.tag == "service_requests"
    assert [c.tag for c in root.find("request")] == REQUEST_FIELDS


def test_get_requests_filters_and_the_default_window(client, cast, key):
    from datetime import timedelta

    old = report(cast.worker)
    Case.objects.filter(pk=old.pk).update(reported_at=old.reported_at - timedelta(days=100))
    fresh = report(cast.worker, code="0303")
    services.case_reject(actor=cast.dispatcher, number=report(cast.worker).number, reason="invalid")

    def numbers(**params):
        rows = client.get("/open311/v2/requests.json", {"api_key": key, **params}).json()
        return [r["service_request_id"] for r in rows]

    assert old.number not in numbers()  # outside the default 90 days
    assert numbers(service_code="0303") == [fresh.number]
    assert all(
        r["status"] == "closed"
        for r in client.get(
            "/open311/v2/requests.json", {"api_key": key, "status": "closed"}
        ).json()
    )
    assert numbers(service_request_id=old.number) == [old.number]
    bad = client.get("/open311/v2/requests.json", {"api_key": key, "start_date": "yesterday"})
    assert bad.status_code == 400


def test_a_single_request_and_territory_isolation(client, cast, key):
    case = report(cast.worker)
    detail = client.get(f"/open311/v2/requests/{case.number}.json", {"api_key": key}).json()
    assert detail[0]["service_request_id"] == case.number
    outsider_key = Token.objects.create(user=cast.outsider).key
    hidden = client.get(f"/open311/v2/requests/{case.number}.xml", {"api_key": outsider_key})
    assert hidden.status_code == 404
    assert ET.fromstring(hidden.content).find("error/code").text == "404"
    lon, lat = POINT_B1
    assert post(client, "json", **new_request(key, long=lon, lat=lat)).status_code == 400


def test_an_unknown_format_is_a_404(client, db):
    assert client.get("/open311/v2/services.csv").status_code == 404


# ---- public reads: no key, public kinds only, nothing personal ----------------


def accepted(cast, **kwargs) -> Case:
    case = report(cast.worker, **kwargs)
    services.case_triage(actor=cast.dispatcher, number=case.number, route="onsite")
    return Case.objects.get(pk=case.pk)


def test_anyone_reads_public_requests_without_a_key(client, cast, territory):
    litter = accepted(
        cast,
        description="楼下垃圾堆了三天，联系我 13912345678",
        reporter_name="赵秘密",
        reporter_phone="13912345678",
        address="和平大道 88 号 3 栋",
    )
    rows = client.get("/open311/v2/requests.json").json()
    (row,) = rows
    assert list(row) == REQUEST_FIELDS
    assert row["service_request_id"] == litter.number
    assert row["description"] == "楼下垃圾堆了三天，联系我 ***********"
    body = client.get("/open311/v2/requests.xml").content.decode()
    for personal in ("赵秘密", "13912345678", "和平大道"):
        assert personal not in body and personal not in str(rows)
    assert row["address"] == litter.community.name
    # The cell's centre, not the resident's door.
    centre = territory.cell("420106002001001").boundary.centroid
    assert (row["long"], row["lat"]) == pytest.approx((centre.x, centre.y), abs=1e-5)
    assert (row["long"], row["lat"]) != pytest.approx(POINT_A1_001, abs=1e-4)
    assert row["status_notes"] == str(litter.get_state_display())


def test_a_case_outside_every_cell_is_shown_at_its_communitys_or_streets_centre(
    client, cast, territory
):
    door = (114.29731, 30.56123)  # in street A, in no community
    case = report(cast.coordinator, point=door)
    assert case.cell is None
    (row,) = client.get(f"/open311/v2/requests/{case.number}.json").json()
    unit = case.community or case.street
    centre = unit.boundary.centroid
    assert (row["long"], row["lat"]) == pytest.approx((centre.x, centre.y), abs=1e-5)
    assert (row["long"], row["lat"]) != pytest.approx(door, abs=1e-3)


def test_disputes_hazards_and_private_kinds_are_never_in_a_public_read(client, cast):
    dispute = accepted(cast, code="0101", parties=[{"name": "钱当事"}])
    hazard = accepted(cast, code="0303")
    leak = accepted(cast, code="0201")  # a flat's leaking roof: not public by default
    rejected = report(cast.worker)
    services.case_reject(actor=cast.dispatcher, number=rejected.number, reason="invalid")
    assert client.get("/open311/v2/requests.json").json() == []
    for case in (dispute, hazard, leak, rejected):
        hidden = client.get(f"/open311/v2/requests/{case.number}.json")
        unknown = client.get("/open311/v2/requests/420106002-20000101-9999.json")
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.content.replace(case.number.encode(), b"N") == unknown.content.replace(
            b"420106002-20000101-9999", b"N"
        )


def test_a_public_request_shows_no_description_before_it_was_accepted(client, cast):
    case = report(cast.worker, description="门口垃圾")
    (row,) = client.get(f"/open311/v2/requests/{case.number}.json").json()
    assert row["status"] == "open" and row["description"] == ""
    assert row["status_notes"] == str(case.get_state_display())


def test_public_reads_can_be_turned_off(client, cast, settings):
    settings.OPEN311_PUBLIC_READS = False
    accepted(cast)
    response = client.get("/open311/v2/requests.json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "api_key is required" in response.json()[0]["description"]


def test_media_url_serves_the_result_photo_and_nothing_else(client, cast, settings, tmp_path):
    from tests.base import jpeg

    settings.MEDIA_ROOT = tmp_path
    case = accepted(cast, photos=[jpeg(color="blue")])
    (row,) = client.get(f"/open311/v2/requests/{case.number}.json").json()
    assert row["media_url"] == ""  # the reporter's photo is not public
    reporters = case.attachments.get()
    assert client.get(f"/open311/v2/media/{reporters.pk}").status_code == 404
    services.case_handle(
        actor=cast.worker, number=case.number, result="已清理", photos=[jpeg(color="green")]
    )
    (row,) = client.get(f"/open311/v2/requests/{case.number}.json").json()
    result = case.attachments.exclude(pk=reporters.pk).get()
    assert row["media_url"] == f"http://testserver/open311/v2/media/{result.pk}"
    photo = client.get(row["media_url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    settings.OPEN311_PUBLIC_READS = False
    assert client.get(row["media_url"]).status_code == 404


def test_a_dispute_or_hazard_category_cannot_be_made_public(db):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    from cases.models import Category

    dispute = Category.objects.get(code="0101")
    dispute.public = True
    with pytest.raises(ValidationError, match="never public"):
        dispute.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(code="0303").update(public=True)
    assert set(Category.objects.filter(public=True).values_list("code", flat=True)) == {
        "0202",
        "0401",
        "0402",
        "0404",
    }


@pytest.mark.usefixtures("reference_data")
def test_third_party_open311_clients_read_without_a_key_and_post_with_one():
    """Two GeoReport v2 clients from PyPI, written for other cities, against a live server:
    civicbot posts with a key and reads back; georeport reads without one, JSON and XML."""
    from civicbot import Endpoint, HttpTransport, Open311Client
    from civicbot.http import RateLimiter
    from georeport import GeoReport

    from tests.base import build_cast, build_territory
    from tests.live import live_server

    cast = build_cast(build_territory())
    key = Token.objects.create(user=cast.worker).key
    dispute = report(cast.worker, code="0101")
    lon, lat = POINT_A1_001
    with live_server() as url:
        base = url + "/open311/v2"
        endpoint = Endpoint(id="gridcase", name="GridCase", base_url=base, write=True)
        client = Open311Client(endpoint, HttpTransport(rate_limiter=RateLimiter(min_interval=0)))
        sent = client.create_request(
            "0401",
            dry_run=False,
            confirm="SEND",
            api_key=key,
            validate_remote=True,
            lat=lat,
            lng=lon,
            description="路口垃圾没人清",
            first_name="六",
            last_name="赵",
        )
        (made,) = sent.response
        number = made["service_request_id"]
        assert client.get_request(number)["status"] == "open"  # read back, no key

        public = GeoReport(url + "/open311/v2")
        assert {"0101", "0401"} <= {s["service_code"] for s in public.get_service_list()}
        row = public.get_service_request(number)
        assert row["service_code"] == "0401" and "赵" not in str(row)
        listed = [r["service_request_id"] for r in public.get_service_requests()]
        assert number in listed and dispute.number not in listed
        xml = GeoReport(url + "/open311/v2", output_format="xml")
        assert xml.get_service_request(number)["service_request_id"] == number
