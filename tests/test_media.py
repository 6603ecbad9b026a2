"""Uploaded photos are served only to people who may see their case."""

from tests.base import jpeg, report


def test_a_photo_is_served_to_the_territory_only(client, cast, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = report(cast.worker, photos=[jpeg()])
    url = case.attachments.get().file.url
    client.force_login(cast.leader)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    client.force_login(cast.outsider)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_an_unknown_file_is_a_404(client, cast):
    client.force_login(cast.admin)
    assert client.get("/media/cases/2026/11/nothing.jpg").status_code == 404
