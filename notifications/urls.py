"""HTTP routes of the notifications app, mounted under /api/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications import topic_views
from notifications.views import NotificationViewSet

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    *router.urls,
    path("topics/", topic_views.TopicListView.as_view(), name="topic-list"),
    path(
        "topics/<slug:slug>/subscription/",
        topic_views.TopicSubscriptionView.as_view(),
        name="topic-subscription",
    ),
    path(
        "topics/<slug:slug>/events/",
        topic_views.TopicEventView.as_view(),
        name="topic-events",
    ),
    path("broadcasts/", topic_views.BroadcastListView.as_view(), name="broadcast-list"),
    path(
        "broadcasts/<int:pk>/",
        topic_views.BroadcastDetailView.as_view(),
        name="broadcast-detail",
    ),
]
