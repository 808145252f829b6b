"""HTTP routes of the subscribers app, mounted under /api/."""

from django.urls import re_path

from subscribers.models import EXTERNAL_ID_PATTERN
from subscribers.views import SubscriberTokenView, SubscriberView

# Ids of another shape are no subscriber's: 404, like any unknown path.
EXTERNAL_ID = rf"(?P<external_id>{EXTERNAL_ID_PATTERN})"

urlpatterns = [
    re_path(
        rf"^subscribers/{EXTERNAL_ID}/$", SubscriberView.as_view(), name="subscriber"
    ),
    re_path(
        rf"^subscribers/{EXTERNAL_ID}/token/$",
        SubscriberTokenView.as_view(),
        name="subscriber-token",
    ),
]
