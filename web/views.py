"""The browser pages: thin views over the notifications, emails, chat and
dashboard apps.

Reads go through selectors, writes through services, exactly like the API; the
pages add forms that work without JavaScript, and ``static/hub/hub.js`` makes
them live.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.errors import InvitationNotFound
from chat.models import ROOM_SLUG_RE, Room
from emails.views import preferences_form
from notifications import selectors, services
from notifications.errors import TopicForbidden, TopicNotFound
from notifications.models import Notification
from notifications.serializers import FeedFilterSerializer

# Notifications per page of the notification center.
CENTER_PAGE_SIZE = 20
# Rooms, and pending invitations, the chat page's side bar lists (rooms by slug);
# GET /api/chat/rooms/ pages through all of them.
CHAT_SIDEBAR_MAX_ITEMS = 100

# The dashboard's tiles: data-testid="tile-<name>", filled in by dashboard.js.
DASHBOARD_TILES = [
    {"name": "sockets", "label": "Sockets"},
    {"name": "created-per-min", "label": "Created / min"},
    {"name": "delivered-per-min", "label": "Delivered / min"},
    {"name": "publish-p50", "label": "Publish p50 (ms)"},
    {"name": "publish-p99", "label": "Publish p99 (ms)"},
    {"name": "queue-depth", "label": "Queue depth"},
    {"name": "workers", "label": "Workers"},
    {"name": "failed-tasks", "label": "Failed tasks"},
]
DASHBOARD_CHARTS = [
    {"name": "sockets", "label": "Sockets"},
    {"name": "notifications", "label": "Notifications per minute"},
    {"name": "latency", "label": "Publish latency (ms)"},
    {"name": "queue", "label": "Celery queue depth"},
]


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:notifications")


@require_GET
@login_required
def notification_center(request: HttpRequest) -> HttpResponse:
    """The feed with filters (unread / topic / category) and pagination."""
    query = {k: v for k, v in request.GET.items() if k != "page" and v != ""}
    filters = FeedFilterSerializer(data=query)
    if not filters.is_valid():
        messages.error(request, "Those filters are not valid; showing everything.")
        filters = FeedFilterSerializer(data={})
        filters.is_valid()
    feed = selectors.notification_feed(
        user_id=request.user.pk, **filters.validated_data
    )
    page = Paginator(feed, CENTER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/notifications.html",
        {
            "page": page,
            "filters": filters.validated_data,
            "query": "&".join(f"{k}={v}" for k, v in query.items()),
            "topics": selectors.topics_visible(user=request.user),
        },
    )


@require_POST
@login_required
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one read; with ``follow`` go to its ``url``, else back to the list."""
    try:
        notification = services.notification_mark_read(
            user_id=request.user.pk, notification_id=notification_id
        )
    except Notification.DoesNotExist as exc:
        raise Http404("No such notification.") from exc
    if request.POST.get("follow") and notification.url:
        return redirect(notification.url)
    return _back(request)


@require_POST
@login_required
def notification_archive(request: HttpRequest, notification_id: int) -> HttpResponse:
    try:
        services.notification_archive(
            user_id=request.user.pk, notification_id=notification_id
        )
    except Notification.DoesNotExist as exc:
        raise Http404("No such notification.") from exc
    messages.success(request, "Archived.")
    return _back(request)


@require_POST
@login_required
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    marked = services.notifications_mark_all_read(user_id=request.user.pk)
    messages.success(request, f"Marked {marked} read.")
    return _back(request)


@require_GET
@login_required
def topics(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/topics.html",
        {"topics": selectors.topics_visible(user=request.user)},
    )


@require_POST
@login_required
def topic_follow(request: HttpRequest, slug: str) -> HttpResponse:
    """Follow (``follow=1``) or unfollow a topic; open sockets follow suit."""
    try:
        if request.POST.get("follow") == "1":
            topic = services.topic_subscribe(user=request.user, slug=slug)
            messages.success(request, f"You follow {topic.name}.")
        else:
            topic = services.topic_unsubscribe(user=request.user, slug=slug)
            messages.success(request, f"You no longer follow {topic.name}.")
    except TopicNotFound as exc:
        raise Http404("No such topic.") from exc
    except TopicForbidden as exc:
        raise PermissionDenied("You may not follow this topic.") from exc
    return redirect("web:topics")


@require_http_methods(["GET", "POST"])
@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """The fields of /api/preferences/, with the email page's form and rules."""
    context, status = preferences_form(request, user_id=request.user.pk)
    return render(request, "web/preferences.html", context, status=status)


@require_GET
@login_required
def chat_index(request: HttpRequest) -> HttpResponse:
    return redirect("web:chat", room="lobby")


@require_GET
@login_required
def chat_room(request: HttpRequest, room: str) -> HttpResponse:
    """History, live messages, typing, presence and read receipts (chat.js); for a
    room the user is invited to, the invitation to accept or decline instead."""
    invitations = list(
        chat_selectors.invitations_pending(user=request.user)[:CHAT_SIDEBAR_MAX_ITEMS]
    )
    for invitation in invitations:
        if invitation.room.slug == room:
            return render(
                request, "web/chat_invitation.html", {"invitation": invitation}
            )
    _check_room(request, room)
    visible = chat_selectors.rooms_visible(user=request.user)
    rooms = [r.slug for r in visible[:CHAT_SIDEBAR_MAX_ITEMS]]
    if room not in rooms:  # a new room (the socket creates it), or past the limit
        rooms.append(room)
    context = {"room": room, "rooms": sorted(rooms), "invitations": invitations}
    return render(request, "web/chat.html", context)


@require_POST
@login_required
def chat_invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        room = chat_services.invitation_accept(
            invitation_id=invitation_id, user=request.user
        )
    except InvitationNotFound as exc:
        raise Http404("No such invitation.") from exc
    return redirect("web:chat", room=room.slug)


@require_POST
@login_required
def chat_invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        chat_services.invitation_decline(invitation_id=invitation_id, user=request.user)
    except InvitationNotFound as exc:
        raise Http404("No such invitation.") from exc
    messages.success(request, "Invitation declined.")
    return redirect("web:chat-index")


@require_GET
@login_required
def chat_classic(request: HttpRequest, room: str) -> HttpResponse:
    """The seed documents' tutorial client, as written, on the hub's socket."""
    _check_room(request, room)
    return render(request, "web/chat_classic.html", {"room": room})


@require_GET
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The live dashboard, fed by /ws/dashboard/ (staff; others get 403)."""
    if not request.user.is_staff:
        raise PermissionDenied("The dashboard is for staff.")
    return render(
        request,
        "web/dashboard.html",
        {"tiles": DASHBOARD_TILES, "charts": DASHBOARD_CHARTS},
    )


def _check_room(request: HttpRequest, slug: str) -> None:
    """404 for a name that can be no room; 403 for a room the user may not enter.

    A free name is allowed: the socket creates a public room on first join.
    """
    if not ROOM_SLUG_RE.fullmatch(slug):
        raise Http404("No such room.")
    if chat_selectors.support_room_of_another(slug=slug, user=request.user):
        # Whether or not it exists: the page does not tell which users have one.
        raise PermissionDenied("A support room admits its user and staff.")
    try:
        room = chat_selectors.room_get(slug=slug)
    except Room.DoesNotExist:
        return
    if not chat_selectors.room_may_enter(room=room, user=request.user):
        raise PermissionDenied("This room is private.")


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the form was on (same host only), else the center."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("web:notifications")
