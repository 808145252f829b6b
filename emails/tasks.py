"""Celery tasks of the emails app: two periodic sweeps and one send per email.

The sweeps decide (claim) who is due an email, each in its own transaction,
and queue one ``email_deliver`` per claimed row; the rows make both sweeps
idempotent, and ``email_deliver`` sends a row at most once (emails.services).
"""

from celery import shared_task

from emails import services


@shared_task(name="workers.email_missed_sweep")
def email_missed_sweep() -> int:
    """Claim due missed-notification emails, re-queue unsent ones; returns queued."""
    ids = services.missed_emails_claim_due() + services.outbox_claim_due()
    for sent_email_id in dict.fromkeys(ids):
        email_deliver.delay(sent_email_id)
    return len(ids)


@shared_task(name="workers.email_digest_sweep")
def email_digest_sweep() -> int:
    """Claim the digests whose period has ended; returns how many were queued."""
    ids = services.digests_claim_due()
    for sent_email_id in ids:
        email_deliver.delay(sent_email_id)
    return len(ids)


@shared_task(name="workers.email_deliver")
def email_deliver(sent_email_id: int) -> str:
    """Send one claimed email (a no-op if it is already sent or being sent)."""
    return services.sent_email_deliver(sent_email_id=sent_email_id)
