"""Reads of tickets: lists, one ticket with its comments, who is concerned."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from tickets.models import Ticket


def ticket_list(*, assigned_to: AbstractBaseUser | None = None) -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("reporter", "assignee")
    if assigned_to is not None:
        tickets = tickets.filter(assignee=assigned_to)
    return tickets


def ticket_get(*, pk: int) -> Ticket:
    """The ticket with its people and comments loaded; Ticket.DoesNotExist if none."""
    return (
        Ticket.objects.select_related("reporter", "assignee")
        .prefetch_related("watchers", "comments__author")
        .get(pk=pk)
    )


def ticket_concerned(*, ticket: Ticket) -> set[AbstractBaseUser]:
    """Everyone who hears about a ticket: its reporter, assignee and watchers."""
    people = {ticket.reporter, *ticket.watchers.all()}
    if ticket.assignee is not None:
        people.add(ticket.assignee)
    return people


def assignable_users() -> QuerySet:
    return get_user_model().objects.filter(is_active=True).order_by("username")
