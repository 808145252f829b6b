"""Sending claimed pushes through a real push service (web-push-testing), which
checks the VAPID signature and decrypts what it receives."""

import http.server
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from delivery import escalation, services, tokens, webpush
from delivery.models import PushDelivery, PushSubscription
from emails.services import preference_update
from notifications import services as notification_services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

Status = PushDelivery.Status


def claimed(user, title="Deploy failed", **fields) -> tuple[Notification, int]:
    """A notification for ``user`` and its push claimed as the sweep would."""
    [n] = notification_services.notify(recipients=[user], title=title, **fields)
    n.refresh_from_db()
    [(delivery_id, _due)] = escalation.push_claim_due(
        now=timezone.now() + timedelta(seconds=60)
    )
    return n, delivery_id


def deliver(delivery_id: int) -> str:
    return services.push_deliver(
        delivery_id=delivery_id, now=timezone.now() + timedelta(seconds=60)
    )


def test_deliver__the_service_gets_it_decrypted_with_what_the_worker_shows(
    alice, browser_of, push_service, settings
):
    settings.HUB_BASE_URL = "https://hub.example.com"
    browser = browser_of(alice)
    n, delivery_id = claimed(
        alice, body="Build 12 broke", url="/notifications/", level="error"
    )

    assert deliver(delivery_id) == Status.SENT

    [message] = push_service.messages(browser["clientHash"])
    # The read token is signed with a timestamp: check what it names, not its text.
    read_token = message.pop("read_token")
    assert tokens.read_token_target(read_token) == (alice.pk, n.pk)
    assert message == {
        "id": n.pk,
        "title": "Deploy failed",
        "body": "Build 12 broke",
        "url": "https://hub.example.com/notifications/",
        "level": "error",
    }
    row = PushDelivery.objects.get(pk=delivery_id)
    assert row.sent_at is not None
    assert row.pushed_to == [PushSubscription.objects.get().pk]


def test_deliver__twice_pushes_once(alice, browser_of, push_service):
    browser = browser_of(alice)
    _, delivery_id = claimed(alice)

    deliver(delivery_id)
    assert deliver(delivery_id) == Status.SENT

    assert len(push_service.messages(browser["clientHash"])) == 1


def test_deliver__every_browser_of_the_user(alice, bob, browser_of, push_service):
    phone, laptop, bobs = browser_of(alice), browser_of(alice), browser_of(bob)
    _, delivery_id = claimed(alice)

    deliver(delivery_id)

    assert len(push_service.messages(phone["clientHash"])) == 1
    assert len(push_service.messages(laptop["clientHash"])) == 1
    assert push_service.messages(bobs["clientHash"]) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"seen_at": datetime(2025, 1, 1, tzinfo=UTC)}, "seen on an open page"),
        ({"read_at": datetime(2025, 1, 1, tzinfo=UTC)}, "read"),
        ({"archived_at": datetime(2025, 1, 1, tzinfo=UTC)}, "archived"),
    ],
)
def test_deliver__seen_read_or_archived_meanwhile_is_not_pushed(
    alice, browser_of, push_service, change, reason
):
    browser = browser_of(alice)
    n, delivery_id = claimed(alice)
    Notification.objects.filter(pk=n.pk).update(**change)

    assert deliver(delivery_id) == Status.SKIPPED

    assert PushDelivery.objects.get(pk=delivery_id).reason == reason
    assert push_service.messages(browser["clientHash"]) == []


def test_deliver__push_off_in_preferences_is_not_pushed(
    alice, browser_of, push_service
):
    browser = browser_of(alice)
    preference_update(user_id=alice.pk, push=False)
    _, delivery_id = claimed(alice)

    assert deliver(delivery_id) == Status.SKIPPED
    assert push_service.messages(browser["clientHash"]) == []


def test_deliver__push_off_for_the_category_only(alice, browser_of, push_service):
    browser = browser_of(alice)
    preference_update(user_id=alice.pk, category_channels={"billing": {"push": False}})
    _, billing = claimed(alice, title="invoice", category="billing")
    _, chat = claimed(alice, title="mention", category="chat")

    assert deliver(billing) == Status.SKIPPED
    assert deliver(chat) == Status.SENT
    assert [m["title"] for m in push_service.messages(browser["clientHash"])] == [
        "mention"
    ]


def test_deliver__quiet_hours_hold_it_without_using_up_attempts(
    alice, browser_of, push_service
):
    browser = browser_of(alice)
    now = timezone.now()
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    preference_update(user_id=alice.pk, quiet_hours={"start": start, "end": end})
    _, delivery_id = claimed(alice)

    assert deliver(delivery_id) == Status.SCHEDULED

    row = PushDelivery.objects.get(pk=delivery_id)
    assert row.reason == "quiet hours"
    assert row.attempts == 0
    assert row.next_attempt_at > timezone.now()
    assert push_service.messages(browser["clientHash"]) == []


def test_deliver__expired_subscription_is_deleted(alice, browser_of, push_service):
    browser = browser_of(alice)
    push_service.expire(browser["clientHash"])
    _, delivery_id = claimed(alice)

    assert deliver(delivery_id) == Status.SKIPPED

    assert not PushSubscription.objects.filter(user=alice).exists()


def test_deliver__long_body_is_shortened_to_fit_4_kib(alice, browser_of, push_service):
    browser = browser_of(alice)
    _, delivery_id = claimed(alice, body="é" * 5000, url="/x/" + "a" * 2000)

    assert deliver(delivery_id) == Status.SENT

    [message] = push_service.messages(browser["clientHash"])
    assert message["body"].endswith("…")
    assert 0 < len(message["body"]) < 5000
    assert message["url"].endswith("a" * 2000)


class _Busy(http.server.BaseHTTPRequestHandler):
    """A push service that answers every push 429 Too Many Requests."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(429)
        self.send_header("Retry-After", "120")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def busy_service():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_deliver__429_is_retried_after_retry_after_then_given_up(
    alice, vapid, push_service, busy_service, settings
):
    real = push_service.subscribe(vapid)
    PushSubscription.objects.create(
        user=alice, endpoint=busy_service + "/push/1", **real["keys"]
    )
    _, delivery_id = claimed(alice)

    assert deliver(delivery_id) == Status.SCHEDULED

    row = PushDelivery.objects.get(pk=delivery_id)
    assert "429" in row.reason
    assert (
        timedelta(seconds=110)
        < row.next_attempt_at - timezone.now()
        < timedelta(seconds=130)
    )
    assert PushSubscription.objects.filter(user=alice).exists()  # kept
    for _ in range(settings.PUSH_SEND_MAX_ATTEMPTS - 1):
        deliver(delivery_id)
    assert PushDelivery.objects.get(pk=delivery_id).status == Status.FAILED


def test_deliver__a_stale_sending_row_is_taken_again_and_skips_pushed_browsers(
    alice, browser_of, push_service
):
    first, second = browser_of(alice), browser_of(alice)
    _, delivery_id = claimed(alice)
    # A worker pushed to the first browser, then died.
    first_sub = PushSubscription.objects.get(endpoint__endswith=first["clientHash"])
    PushDelivery.objects.filter(pk=delivery_id).update(
        status=Status.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
        pushed_to=[first_sub.pk],
    )

    assert deliver(delivery_id) == Status.SENT

    assert push_service.messages(first["clientHash"]) == []
    assert len(push_service.messages(second["clientHash"])) == 1


def test_deliver__a_live_sending_row_is_left_alone(alice, browser_of, push_service):
    browser = browser_of(alice)
    _, delivery_id = claimed(alice)
    PushDelivery.objects.filter(pk=delivery_id).update(
        status=Status.SENDING, claimed_at=timezone.now() + timedelta(seconds=55)
    )

    assert deliver(delivery_id) == Status.SENDING
    assert push_service.messages(browser["clientHash"]) == []


def test_deliver__without_a_vapid_key_nothing_is_sent(alice, browser_of, settings):
    browser_of(alice)
    _, delivery_id = claimed(alice)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""

    assert deliver(delivery_id) == Status.SKIPPED


def test_payload__fits_the_limit_with_multibyte_text():
    data = webpush.payload(
        notification_id=1, title="t" * 200, body="😀" * 3000, url=None, level="info"
    )

    assert len(data) <= webpush.PAYLOAD_MAX_BYTES
