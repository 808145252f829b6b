"""The test product's URLs: the client's own, as a product includes them."""

from django.urls import include, path

urlpatterns = [path("hub/", include("hub_client.django.urls"))]
