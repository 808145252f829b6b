"""The URLs a product includes: ``path("hub/", include("hub_client.django.urls"))``."""

from django.urls import path

from . import views

app_name = "hub_client"
urlpatterns = [path("token/", views.token, name="token")]
