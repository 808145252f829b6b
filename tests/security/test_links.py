"""Notification links (`url`): an http(s) URL or a path on this site, nothing
that a browser would follow anywhere else (CONTRACT 2)."""

import pytest

from emails.messages import absolute_url
from notifications.models import Notification
from tests.conftest import api_client_for

# Each is followed off-site or to a script by some browser: backslashes count as
# slashes in special URLs, tabs and newlines are stripped from them.
REFUSED = [
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example/",
    "//evil.example",
    "///evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https:/\\evil.example",
    "https:evil.example",
    "https://good.example\\@evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://files.example/x",
    "relative/path",
    "\x00/x",
]
ACCEPTED = [
    "/topics/",
    "/notifications/?unread=true#top",
    "https://app.example.com/invoices/3",
    "http://127.0.0.1:8000/x",
    "HTTPS://APP.EXAMPLE.COM/",
]


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("path", ["/api/notifications/", "/api/broadcasts/"])
def test_url__off_site_or_not_http_is_a_field_error(world, path, url):
    body = {"title": "t", "url": url}
    body.update({"recipients": [world.users["alice"].pk]} if "notif" in path else {})
    body.update({"topic": None} if "broad" in path else {})

    response = api_client_for(world.users["staff"]).post(path, body, format="json")

    assert response.status_code == 400, response.content[:300]
    assert "url" in response.json()


@pytest.mark.parametrize("url", ACCEPTED)
def test_url__http_or_a_site_path_is_stored(world, url):
    alice = world.users["alice"]

    response = api_client_for(world.users["staff"]).post(
        "/api/notifications/",
        {"recipients": [alice.pk], "title": "t", "url": url},
        format="json",
    )

    assert response.status_code == 201, response.content[:300]
    assert Notification.objects.filter(recipient=alice).latest("id").url == url


@pytest.mark.parametrize("url", REFUSED)
def test_email_link__off_site_url_saved_with_the_orm_is_dropped(url):
    assert absolute_url(url) is None
