"""Logging in: our own page, in Chinese by default, leading home."""

import re

from tests.base import make_user


def test_the_login_page_is_ours_and_chinese(client):
    html = client.get("/login/").content.decode()
    assert re.search(r"/static/gridcase/app\.[0-9a-f]{12}\.css", html)  # hashed: DEBUG is off
    assert "viewflow" not in html
    assert "登录" in html


def test_a_person_logs_in_and_sees_their_territory(client, cast):
    response = client.post("/login/", {"username": "leader", "password": "password"}, follow=True)
    html = response.content.decode()
    assert "我的辖区" in html
    assert "杨园街道" in html
    assert "/map/" in html


def test_a_wrong_password_is_refused(client, db):
    make_user("someone")
    response = client.post("/login/", {"username": "someone", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
