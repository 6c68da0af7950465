"""The Prometheus endpoint. Each package defines its own metrics next to the code they measure."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response

__all__ = ["blueprint"]

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Return every registered metric in Prometheus' text format."""
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def serve_on_own_port(host: str, port: int) -> None:
    """Serve /metrics on host:port from a background thread; raise OSError when the port is taken."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
