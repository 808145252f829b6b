"""emails.messages: what an email shows and carries (escaping, links, headers)."""

from datetime import timedelta

import pytest
from django.core import mail

from emails import tokens
from tests.emails.conftest import T0, missed_sweep, notify_at

pytestmark = pytest.mark.django_db
DELAY = timedelta(seconds=600)


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_email__user_text_is_escaped_in_html_and_plain_in_text(alice):
    notify_at(
        alice,
        T0,
        title="<script>alert('hi')</script>",
        body='<img src=x onerror="steal()"> & "quotes"\nsecond line',
    )

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    html = html_of(email)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in html
    assert (
        "&lt;img src=x onerror=&quot;steal()&quot;&gt; &amp; &quot;quotes&quot;" in html
    )
    assert "<br>second line" in html
    assert "<script>alert('hi')</script>" in email.body  # text part: as written
    assert "&lt;" not in email.body


def test_email__subject_is_one_line_whatever_the_title(alice):
    notify_at(alice, T0, title="Line one\r\nBcc: victim@example.com")

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    assert email.subject == "The hub: Line one Bcc: victim@example.com"
    assert email.message()["Bcc"] is None


def test_email__links_are_absolute_and_only_http(alice, settings):
    settings.HUB_BASE_URL = "https://hub.example.com"
    notify_at(alice, T0, title="relative", url="/deploys/42")
    notify_at(alice, T0, title="absolute", url="https://ci.example.com/run/7")
    notify_at(alice, T0, title="sneaky", url="javascript:alert(1)")

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    html = html_of(email)
    assert 'href="https://hub.example.com/deploys/42"' in html
    assert 'href="https://ci.example.com/run/7"' in html
    assert "javascript:" not in html and "javascript:" not in email.body
    assert "https://hub.example.com/email/preferences/" in html
    assert "https://hub.example.com/email/preferences/" in email.body


def test_email__one_click_unsubscribe_headers_rfc_8058(alice, settings):
    settings.HUB_BASE_URL = "https://hub.example.com"
    notify_at(alice, T0)

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    header = email.extra_headers["List-Unsubscribe"]
    assert header.startswith("<https://hub.example.com/email/unsubscribe/")
    assert header.endswith("/>")
    token = header.removeprefix("<https://hub.example.com/email/unsubscribe/")[:-2]
    assert tokens.read_token(tokens.UNSUBSCRIBE, token) == alice.pk
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert header[1:-1] in email.body and header[1:-1] in html_of(email)


def test_email__times_show_in_the_users_timezone(alice):
    from emails.services import preference_update

    preference_update(user_id=alice.pk, timezone="Asia/Tokyo")
    notify_at(alice, T0)  # 12:00 UTC is 21:00 in Tokyo

    missed_sweep(T0 + DELAY)

    assert "21:00" in mail.outbox[0].body


def test_email__long_batches_list_the_newest_and_count_the_rest(alice, settings):
    settings.EMAIL_MAX_ITEMS = 3
    for i in range(5):
        notify_at(alice, T0, title=f"item {i}")

    missed_sweep(T0 + DELAY)

    [email] = mail.outbox
    assert "5 unread notifications" in email.subject
    assert "item 4" in email.body and "item 2" in email.body
    assert "item 1" not in email.body
    assert "and 2 more" in email.body
