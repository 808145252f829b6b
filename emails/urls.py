"""HTTP routes of the emails app: the API (under /api/) and the signed pages."""

from django.urls import path

from emails import views

api_urlpatterns = [
    path("preferences/", views.PreferenceView.as_view(), name="preferences"),
]

page_urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="email-unsubscribe"),
    path("preferences/<str:token>/", views.preferences_page, name="email-preferences"),
]
