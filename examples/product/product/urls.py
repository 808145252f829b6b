"""The product's URLs: its own pages, plus the token view the bell calls."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("tickets.urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # `token-url` of <hub-bell>: a connection token for the signed-in user.
    path("hub/", include("hub_client.django.urls")),
    path("admin/", admin.site.urls),
]
