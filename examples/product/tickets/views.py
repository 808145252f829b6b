"""Ticket pages: thin views that validate a form and call one service."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tickets import selectors, services
from tickets.forms import AssignForm, CommentForm, StatusForm, TicketForm
from tickets.models import Ticket


def _ticket_or_404(pk: int) -> Ticket:
    try:
        return selectors.ticket_get(pk=pk)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket") from None


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    tickets = selectors.ticket_list(assigned_to=request.user if mine else None)
    return render(request, "tickets/list.html", {"tickets": tickets, "mine": mine})


@login_required
def ticket_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "tickets/create.html", {"form": TicketForm()})
    form = TicketForm(request.POST)
    if not form.is_valid():
        return render(request, "tickets/create.html", {"form": form}, status=400)
    ticket = services.ticket_create(reporter=request.user, **form.cleaned_data)
    return redirect(ticket)


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(pk)
    return render(request, "tickets/detail.html", _detail_context(ticket))


def _detail_context(
    ticket: Ticket,
    comment_form: CommentForm | None = None,
    assign_form: AssignForm | None = None,
) -> dict:
    return {
        "ticket": ticket,
        "comment_form": comment_form or CommentForm(),
        "assign_form": assign_form
        or AssignForm(initial={"assignee": ticket.assignee_id}),
    }


def _invalid(request: HttpRequest, ticket: Ticket, **forms) -> HttpResponse:
    """The ticket page again, with the form's errors, as a 400."""
    context = _detail_context(ticket, **forms)
    return render(request, "tickets/detail.html", context, status=400)


@require_POST
@login_required
def ticket_comment(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, comment_form=form)
    services.comment_create(ticket=ticket, author=request.user, **form.cleaned_data)
    return redirect(ticket)


@require_POST
@login_required
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _invalid(request, ticket, assign_form=form)
    services.ticket_assign(ticket=ticket, by=request.user, **form.cleaned_data)
    return redirect(ticket)


@require_POST
@login_required
def ticket_status(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket_or_404(pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("status must be open or closed")
    services.ticket_set_status(
        ticket=ticket, by=request.user, status=form.cleaned_data["status"]
    )
    return redirect(ticket)
