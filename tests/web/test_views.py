"""The browser pages: login, the notification center, topics, preferences, chat,
the dashboard."""

import pytest
from django.test import Client

from chat import services as chat_services
from chat.models import Room
from emails.models import Preference
from notifications.models import Notification, Subscription, Topic
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_web(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def staff_web(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def note(user, title: str, **fields) -> Notification:
    return Notification.objects.create(recipient=user, title=title, **fields)


# --- login, logout, home --------------------------------------------------------------


def test_home__anonymous_goes_to_the_login_page():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_home__signed_in_goes_to_the_notification_center(alice_web):
    response = alice_web.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/notifications/"


def test_login__right_password_signs_in_and_lands_on_the_center(alice):
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert client.get("/notifications/").status_code == 200


def test_login__wrong_password_shows_an_error_and_signs_nobody_in(alice):
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert client.get("/notifications/").status_code == 302


def test_login__page_labels_its_inputs():
    html = Client().get("/login/").content.decode()

    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html


def test_logout__post_signs_out(alice_web):
    response = alice_web.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert alice_web.get("/notifications/").status_code == 302


# --- the bell in the layout -----------------------------------------------------------


def test_bell__shows_the_unread_count_before_any_script_runs(alice, alice_web):
    note(alice, "one")
    note(alice, "two")
    note(alice, "read", read_at="2026-01-01T00:00:00Z")

    html = alice_web.get("/notifications/").content.decode()

    assert "<span data-hub-badge-count>2</span>" in html
    assert 'aria-live="polite"' in html
    assert "hub/hub.js" in html
    assert "hub/bell.css" in html  # the bell's styles live there, not in hub.css


def test_bell__dashboard_link_only_for_staff(alice_web, staff):
    staff_web = Client()
    staff_web.force_login(staff)

    assert b'href="/dashboard/"' not in alice_web.get("/topics/").content
    assert b'href="/dashboard/"' in staff_web.get("/topics/").content


# --- the notification center ----------------------------------------------------------


def test_center__lists_own_notifications_newest_first(alice, bob, alice_web):
    note(alice, "first-made")
    note(alice, "second-made")
    note(bob, "bob's secret")

    html = alice_web.get("/notifications/").content.decode()

    assert html.index("second-made") < html.index("first-made")
    assert "bob&#x27;s secret" not in html and "bob's secret" not in html


def test_center__user_text_is_escaped(alice, alice_web):
    note(alice, "<script>alert(1)</script>", body="<img src=x onerror=alert(2)>")

    html = alice_web.get("/notifications/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_center__filters_unread_topic_and_category(alice, alice_web):
    deploys = Topic.objects.create(slug="deploys", name="Deploys")
    note(alice, "unread-general")
    note(alice, "seen-general", read_at="2026-01-01T00:00:00Z")
    note(alice, "deploy-note", topic=deploys)
    note(alice, "billing-note", category="billing")

    unread = alice_web.get("/notifications/?unread=true").content.decode()
    topic = alice_web.get("/notifications/?topic=deploys").content.decode()
    category = alice_web.get("/notifications/?category=billing").content.decode()

    assert "unread-general" in unread and "seen-general" not in unread
    assert "deploy-note" in topic and "unread-general" not in topic
    assert "billing-note" in category and "deploy-note" not in category


def test_center__bad_filter_says_so_and_shows_everything(alice, alice_web):
    note(alice, "still here")

    response = alice_web.get("/notifications/?unread=maybe")

    assert response.status_code == 200
    assert b"Those filters are not valid" in response.content
    assert b"still here" in response.content


def test_center__paginates_twenty_a_page_and_keeps_filters(alice, alice_web):
    for i in range(25):
        note(alice, f"n{i:02d}", category="ci")

    first = alice_web.get("/notifications/?category=ci").content.decode()
    second = alice_web.get("/notifications/?category=ci&page=2").content.decode()

    assert "n24" in first and "n05" in first and "n04" not in first
    assert "Page 1 of 2" in first
    assert "?category=ci&amp;page=2" in first
    assert "n04" in second and "n00" in second and "n05" not in second


def test_center__archive_hides_it(alice, alice_web):
    n = note(alice, "to archive")

    response = alice_web.post(
        f"/notifications/{n.id}/archive/", {"next": "/notifications/?unread=true"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/notifications/?unread=true"
    assert b"to archive" not in alice_web.get("/notifications/").content


def test_center__archive_of_someone_elses_is_404(bob, alice_web):
    n = note(bob, "bob's")

    response = alice_web.post(f"/notifications/{n.id}/archive/")

    assert response.status_code == 404
    n.refresh_from_db()
    assert n.archived_at is None


def test_center__read_with_follow_goes_to_its_url(alice, alice_web):
    n = note(alice, "deploy", url="/builds/42")

    response = alice_web.post(f"/notifications/{n.id}/read/", {"follow": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/builds/42"
    n.refresh_from_db()
    assert n.read_at is not None


def test_center__read_never_redirects_off_site_through_next(alice, alice_web):
    n = note(alice, "x")

    response = alice_web.post(
        f"/notifications/{n.id}/read/", {"next": "https://evil.example/"}
    )

    assert response["Location"] == "/notifications/"


def test_center__read_all_marks_everything(alice, alice_web):
    note(alice, "a")
    note(alice, "b")

    alice_web.post("/notifications/read-all/")

    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_center__get_on_a_write_url_is_refused(alice, alice_web):
    n = note(alice, "x")

    assert alice_web.get(f"/notifications/{n.id}/archive/").status_code == 405


# --- topics ---------------------------------------------------------------------------


def test_topics__follow_then_unfollow(alice, alice_web):
    Topic.objects.create(slug="deploys", name="Deploys")

    alice_web.post("/topics/deploys/follow/", {"follow": "1"})
    following = alice_web.get("/topics/").content.decode()
    assert Subscription.objects.filter(user=alice, topic__slug="deploys").exists()
    assert "Unfollow" in following

    alice_web.post("/topics/deploys/follow/", {"follow": "0"})
    assert not Subscription.objects.filter(user=alice).exists()


def test_topics__staff_only_topic_is_hidden_and_refused(alice, alice_web):
    Topic.objects.create(slug="ops", name="Ops", staff_only=True)

    assert b"Ops" not in alice_web.get("/topics/").content
    assert alice_web.post("/topics/ops/follow/", {"follow": "1"}).status_code == 403
    assert not Subscription.objects.exists()


def test_topics__unknown_topic_is_404(alice_web):
    assert alice_web.post("/topics/nope/follow/", {"follow": "1"}).status_code == 404


# --- preferences ----------------------------------------------------------------------


def test_preferences__page_saves_through_the_api_rules(alice, alice_web):
    response = alice_web.post(
        "/preferences/",
        {
            "digest": "weekly",
            "timezone": "Europe/Paris",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "muted_categories": "ci, billing",
        },
    )

    assert response.status_code == 200
    assert b"Saved." in response.content
    pref = Preference.objects.get(user=alice)
    assert (pref.email, pref.digest, pref.timezone) == (False, "weekly", "Europe/Paris")
    assert sorted(pref.muted_categories) == ["billing", "ci"]


def test_preferences__bad_timezone_is_a_field_error(alice, alice_web):
    response = alice_web.post(
        "/preferences/", {"email": "on", "digest": "off", "timezone": "Mars/Base"}
    )

    assert response.status_code == 400
    assert b'class="error"' in response.content
    assert not Preference.objects.exists()


def test_preferences__needs_a_login():
    response = Client().get("/preferences/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- chat -----------------------------------------------------------------------------


def test_chat__page_names_the_room_for_the_script(alice_web):
    html = alice_web.get("/chat/lobby/").content.decode()

    assert '<script id="chat-room" type="application/json">"lobby"</script>' in html
    assert "hub/chat.js" in html


def test_chat__index_goes_to_the_lobby(alice_web):
    assert alice_web.get("/chat/")["Location"] == "/chat/lobby/"


def test_chat__private_room_of_others_is_403(alice_web, bob):
    Room.objects.create(slug="secret", name="Secret", is_private=True)

    assert alice_web.get("/chat/secret/").status_code == 403


def test_chat__impossible_room_name_is_404(alice_web):
    assert alice_web.get("/chat/-bad/").status_code == 404


def test_chat__classic_page_serves_the_seed_script(alice_web):
    html = alice_web.get("/chat/lobby/classic/").content.decode()

    assert "console.log(data.username + ': ' + data.message);" in html
    assert "chatSocket.send(JSON.stringify({ 'message': text }));" in html


def test_chat__room_list_has_the_current_room_even_before_it_exists(alice_web):
    html = alice_web.get("/chat/brand-new/").content.decode()

    assert 'href="/chat/brand-new/" aria-current="page"' in html


# --- dashboard ---------------------------------------------------------------------


def test_dashboard__staff_sees_the_tiles(staff_web):
    response = staff_web.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    for name in (
        "sockets",
        "created-per-min",
        "delivered-per-min",
        "publish-p50",
        "publish-p99",
        "queue-depth",
        "workers",
        "failed-tasks",
    ):
        assert f'data-testid="tile-{name}"' in html
    assert "hub/dashboard.js" in html
    assert "hub/vendor/uplot/uPlot.iife.min.js" in html


def test_dashboard__anonymous_sent_to_log_in():
    response = Client().get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/dashboard/")


def test_dashboard__non_staff_forbidden(alice_web):
    response = alice_web.get("/dashboard/")

    assert response.status_code == 403


def test_chat__support_room_of_another_is_403_whether_or_not_it_exists(
    alice_web, bob, make_user
):
    chat_services.room_join(slug="support-bob", user=bob)
    make_user("carol")  # no support room yet

    codes = {
        alice_web.get(f"/chat/support-{name}/").status_code
        for name in ("bob", "carol", "nobody")
    }

    assert codes == {403}


def test_chat__invitee_sees_the_invitation_accepts_then_enters(alice_web, alice, bob):
    room = chat_services.room_create(
        creator=bob, slug="plans", name="Plans", private=True, invitee_ids=[alice.pk]
    )
    [invitation] = room.invitations.all()

    invited = alice_web.get("/chat/plans/").content.decode()
    lobby = alice_web.get("/chat/lobby/").content.decode()
    accepted = alice_web.post(f"/chat/invitations/{invitation.pk}/accept/")

    assert "bob invited you to this private room" in invited
    assert "hub/chat.js" not in invited
    assert 'data-chat-invitations>\n      <li><a href="/chat/plans/">' in lobby
    assert accepted["Location"] == "/chat/plans/"
    assert "hub/chat.js" in alice_web.get("/chat/plans/").content.decode()


def test_chat__invitee_declines_room_stays_closed(alice_web, alice, bob):
    room = chat_services.room_create(
        creator=bob, slug="plans", private=True, invitee_ids=[alice.pk]
    )
    [invitation] = room.invitations.all()

    declined = alice_web.post(f"/chat/invitations/{invitation.pk}/decline/")

    assert declined["Location"] == "/chat/"
    assert alice_web.get("/chat/plans/").status_code == 403


def test_chat__someone_elses_invitation_is_404(alice_web, bob, staff):
    room = chat_services.room_create(
        creator=staff, slug="plans", private=True, invitee_ids=[bob.pk]
    )
    [invitation] = room.invitations.all()

    for answer in ("accept", "decline"):
        response = alice_web.post(f"/chat/invitations/{invitation.pk}/{answer}/")
        assert response.status_code == 404
    assert alice_web.get("/chat/plans/").status_code == 403


def test_chat__side_bar_lists_at_most_the_limit_of_rooms(alice_web, alice, monkeypatch):
    monkeypatch.setattr("web.views.CHAT_SIDEBAR_MAX_ITEMS", 2)
    for slug in ("a-room", "b-room", "c-room"):
        chat_services.room_join(slug=slug, user=alice)

    html = alice_web.get("/chat/lobby/").content.decode()

    assert 'href="/chat/a-room/"' in html
    assert 'href="/chat/b-room/"' in html
    assert 'href="/chat/c-room/"' not in html
    assert 'href="/chat/lobby/" aria-current="page"' in html
