"""Forms of the ticket pages: input checked here, written by services."""

from django import forms

from tickets import selectors
from tickets.models import Ticket


class TicketForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), required=False
    )
    assignee = forms.ModelChoiceField(
        queryset=selectors.assignable_users(), required=False, empty_label="Nobody yet"
    )


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=selectors.assignable_users(), empty_label=None
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)
