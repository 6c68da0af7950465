"""The baseline for the ingest benchmark: the webhook route with no verification or storage.

Run as `python -m bench.bare_app --port N`. It is served by the same Hypercorn-on-uvloop code
as `intercom-app serve` and reads the whole body, so the difference to the real
service is the work of the receiver: signature, envelope, insert and acknowledgement.
"""

from __future__ import annotations

import argparse

from quart import Quart, jsonify, request

from app.server import run_until_signal, serve_app

__all__ = ["create_bare_app"]


def create_bare_app() -> Quart:
    """Build a Quart app whose webhook route reads the body and returns 200 at once."""
    app = Quart("bare_webhooks")

    @app.route("/intercom/<app_key>/webhooks", methods=["HEAD", "POST"])
    async def receive(app_key: str):
        await request.get_data()
        return jsonify({"status": "stored", "notification_id": None})

    @app.get("/healthz")
    async def healthz():
        return "ok"

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the bare webhook route for benchmarks.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    parser.add_argument("--port", type=int, required=True, help="Port to listen on.")
    arguments = parser.parse_args()

    app = create_bare_app()
    run_until_signal(lambda stop: serve_app(app, arguments.host, arguments.port, stop))


if __name__ == "__main__":
    main()
