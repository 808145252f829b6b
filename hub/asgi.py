"""ASGI entry point: one process serves HTTP and WebSockets.

The lifespan events (sent by uvicorn, not by test communicators) start and stop
this web process's dashboard flusher (dashboard/telemetry.py), and at startup
move everything loaded so far out of the garbage collector's sight.
"""

import asyncio
import gc
import os

from hub.handlers import get_http_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
http_application = get_http_application()  # sets Django up before app imports

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat.routing import websocket_urlpatterns as chat_routes  # noqa: E402
from dashboard import telemetry  # noqa: E402
from dashboard.routing import websocket_urlpatterns as dashboard_routes  # noqa: E402
from notifications.routing import websocket_urlpatterns as notification_routes  # noqa: E402
from realtime.consumers import UnknownPathConsumer  # noqa: E402
from realtime.security import secure  # noqa: E402

websocket_routes = [
    *notification_routes,
    *chat_routes,
    *dashboard_routes,
    re_path(r"", UnknownPathConsumer.as_asgi()),
]


async def lifespan(scope, receive, send) -> None:
    """Start the dashboard flusher with the server; at exit stop it, close the DB."""
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            telemetry.start(telemetry.KIND_WEB)
            # Django, the apps and their modules live as long as the process:
            # frozen, a full collection (which stops every socket) no longer
            # walks them. CPython's thresholds stay: fewer young collections
            # cost more memory per idle socket than they save in fan-outs.
            # Figures in docs/PERFORMANCE.md; hub_gc_pause_* shows the cost.
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            telemetry.stop()
            await asyncio.to_thread(http_application.close_connections)
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": secure(URLRouter(websocket_routes)),
        "lifespan": lifespan,
    }
)
