"""The email tasks through Celery (eager), and one send through a real SMTP server."""

import email
from datetime import UTC, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.utils import timezone

from emails import services, tasks
from emails.models import SentEmail
from emails.periods import digest_period
from hub.celery import app as celery_app
from notifications import services as notification_services
from notifications.models import Notification
from tools.devstack import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    """Run tasks in-process, so a sweep's queued sends run before it returns."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager = conf.task_eager_propagates = True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def alice(make_user):
    return make_user("alice", email="alice@example.com")


def unread_for(user, title="Deploy finished", age_secs=3600, **fields):
    n = notification_services.notify(recipients=[user], title=title, **fields)[0]
    Notification.objects.filter(pk=n.pk).update(
        created_at=timezone.now() - timedelta(seconds=age_secs)
    )
    return n


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port, and the hub's settings pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_missed_sweep__sends_through_smtp_with_headers(
    alice, smtp_server, eager_celery, settings
):
    settings.HUB_BASE_URL = "https://hub.example.com"
    unread_for(alice, title="Build <red> & failing")

    assert tasks.email_missed_sweep.delay().get() == 1

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["alice@example.com"]
    assert envelope.mail_from == settings.DEFAULT_FROM_EMAIL
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "The hub: Build <red> & failing"
    # A long header may be folded onto a continuation line (RFC 5322 2.2.3).
    assert (
        message["List-Unsubscribe"]
        .strip()
        .startswith("<https://hub.example.com/email/unsubscribe/")
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Build <red> & failing" in text
    assert "Build &lt;red&gt; &amp; failing" in html
    assert SentEmail.objects.get().status == "sent"


def test_missed_sweep__twice_sends_one_email(alice, eager_celery):
    unread_for(alice)

    tasks.email_missed_sweep.delay()
    tasks.email_missed_sweep.delay()

    assert len(mail.outbox) == 1


def test_email_deliver__redelivered_task_sends_one_email(alice):
    unread_for(alice)
    [row_id] = services.missed_emails_claim_due()

    results = [tasks.email_deliver.apply(args=[row_id]).get() for _ in range(2)]

    assert results == ["sent", "sent"]
    assert len(mail.outbox) == 1


def test_digest_sweep__twice_sends_one_digest(alice, eager_celery, settings):
    services.preference_update(user_id=alice.pk, digest="daily", email=False)
    period = digest_period(
        frequency="daily", now=timezone.now(), tz=UTC, hour=settings.EMAIL_DIGEST_HOUR
    )
    n = unread_for(alice)
    Notification.objects.filter(pk=n.pk).update(created_at=period.start)

    first = tasks.email_digest_sweep.delay().get()
    second = tasks.email_digest_sweep.delay().get()

    assert (first, second) == (1, 0)
    assert len(mail.outbox) == 1


def test_tasks__registered_under_their_names():
    for name in (
        "workers.email_missed_sweep",
        "workers.email_digest_sweep",
        "workers.email_deliver",
    ):
        assert name in celery_app.tasks
