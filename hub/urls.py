"""HTTP routes: the API under /api/, health, metrics, email links, the admin,
and the browser pages (web/) at the root."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dashboard import urls as dashboard_urls
from delivery import views as delivery_views
from emails import urls as email_urls
from hub.views import ObtainTokenView, RotateTokenView, healthz, metrics_view
from realtime.views import WsTicketView

api_patterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/rotate/", RotateTokenView.as_view(), name="auth-token-rotate"),
    path("ws-ticket/", WsTicketView.as_view(), name="ws-ticket"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("notifications.urls")),
    path("", include(email_urls.api_urlpatterns)),
    path("", include("chat.urls")),
    path("", include(dashboard_urls.api_urlpatterns)),
    path("", include("subscribers.urls")),
    path("", include("delivery.urls")),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("email/", include(email_urls.page_urlpatterns)),
    path("admin/", admin.site.urls),
    path("sw.js", delivery_views.service_worker, name="service-worker"),
    path("", include("web.urls")),
]

handler404 = "hub.api.json_not_found"
handler500 = "hub.api.json_server_error"
