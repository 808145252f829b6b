"""HTTP routes of the delivery app, mounted under /api/."""

from django.urls import path

from delivery import views

urlpatterns = [
    path("push/key/", views.PushKeyView.as_view(), name="push-key"),
    path(
        "push/subscriptions/",
        views.PushSubscriptionView.as_view(),
        name="push-subscriptions",
    ),
    path("push/read/", views.PushReadView.as_view(), name="push-read"),
]
