"""Routes of the browser pages (mounted at the site root by hub/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", views.notification_center, name="notifications"),
    path(
        "notifications/read-all/",
        views.notifications_read_all,
        name="notifications-read-all",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path(
        "notifications/<int:notification_id>/archive/",
        views.notification_archive,
        name="notification-archive",
    ),
    path("topics/", views.topics, name="topics"),
    path("topics/<slug:slug>/follow/", views.topic_follow, name="topic-follow"),
    path("preferences/", views.preferences, name="preferences"),
    path("chat/", views.chat_index, name="chat-index"),
    path(
        "chat/invitations/<int:invitation_id>/accept/",
        views.chat_invitation_accept,
        name="chat-invitation-accept",
    ),
    path(
        "chat/invitations/<int:invitation_id>/decline/",
        views.chat_invitation_decline,
        name="chat-invitation-decline",
    ),
    path("chat/<str:room>/", views.chat_room, name="chat"),
    path("chat/<str:room>/classic/", views.chat_classic, name="chat-classic"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
