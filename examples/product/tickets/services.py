"""Writes of tickets. Each one notifies the people concerned through the hub,
after the commit (``notify_on_commit``), never the person who acted."""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from hub_client.django import notify_on_commit

from accounts.services import subscriber_ids
from tickets import selectors
from tickets.models import Comment, Ticket

# The hub groups and filters notifications by category.
CATEGORY = "tickets"
# The hub refuses longer titles (a 400); a long ticket title is cut instead.
HUB_TITLE_MAX_CHARS = 200


@transaction.atomic
def ticket_create(
    *,
    reporter: AbstractBaseUser,
    title: str,
    description: str = "",
    assignee: AbstractBaseUser | None = None,
) -> Ticket:
    ticket = Ticket.objects.create(
        reporter=reporter, title=title, description=description
    )
    ticket.watchers.add(reporter)
    if assignee is not None:
        ticket_assign(ticket=ticket, assignee=assignee, by=reporter)
    return ticket


@transaction.atomic
def ticket_assign(
    *, ticket: Ticket, assignee: AbstractBaseUser, by: AbstractBaseUser
) -> Ticket:
    if ticket.assignee_id == assignee.pk:
        return ticket
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    ticket.watchers.add(assignee)
    _notify(
        [assignee],
        actor=by,
        ticket=ticket,
        title=f"{by.get_username()} assigned you #{ticket.pk}: {ticket.title}",
        body=ticket.description[:200],
    )
    return ticket


@transaction.atomic
def comment_create(*, ticket: Ticket, author: AbstractBaseUser, body: str) -> Comment:
    comment = Comment.objects.create(ticket=ticket, author=author, body=body)
    ticket.save(update_fields=["updated_at"])
    ticket.watchers.add(author)
    _notify(
        selectors.ticket_concerned(ticket=ticket),
        actor=author,
        ticket=ticket,
        title=f"{author.get_username()} commented on #{ticket.pk}: {ticket.title}",
        body=body[:200],
    )
    return comment


@transaction.atomic
def ticket_set_status(
    *, ticket: Ticket, status: Ticket.Status, by: AbstractBaseUser
) -> Ticket:
    """Close or reopen a ticket."""
    if ticket.status == status:
        return ticket
    ticket.status = status
    ticket.save(update_fields=["status", "updated_at"])
    verb = "closed" if status == Ticket.Status.CLOSED else "reopened"
    _notify(
        selectors.ticket_concerned(ticket=ticket),
        actor=by,
        ticket=ticket,
        title=f"{by.get_username()} {verb} #{ticket.pk}: {ticket.title}",
        level="success" if status == Ticket.Status.CLOSED else "info",
    )
    return ticket


def ticket_watch(*, ticket: Ticket, user: AbstractBaseUser, watching: bool) -> None:
    if watching:
        ticket.watchers.add(user)
    else:
        ticket.watchers.remove(user)


def _notify(
    people: Iterable[AbstractBaseUser],
    *,
    actor: AbstractBaseUser,
    ticket: Ticket,
    title: str,
    body: str = "",
    level: str = "info",
) -> None:
    recipients = subscriber_ids(p for p in people if p.pk != actor.pk)
    if not recipients:
        return
    notify_on_commit(
        recipients,
        title[:HUB_TITLE_MAX_CHARS],
        body=body,
        level=level,
        category=CATEGORY,
        # An absolute link: the bell lives on the product's pages, the hub elsewhere.
        url=settings.PRODUCT_URL + ticket.get_absolute_url(),
        data={"ticket": ticket.pk},
    )
