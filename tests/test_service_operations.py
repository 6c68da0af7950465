"""The composition root's own endpoints and files: readiness, metrics port, deploy manifest."""

import asyncio
import json

import httpx

from app.embedded_db import EmbeddedMongo
from app.factory import create_app
from app.manifest import TABLE_END, TABLE_START, manifest, settings_table
from app.server import serve_app
from app.settings import REQUIRED_IN_PRODUCTION, Settings
from tests.conftest import REPO_ROOT


async def test_readiness_fails_when_embedded_server_stops(make_settings, tmp_path):
    settings = make_settings(MONGODB_URI="", DATA_DIR=tmp_path / "data")
    embedded = EmbeddedMongo(settings.DATA_DIR / "mongo")
    embedded.start()
    app = create_app(settings, mongo_uri=embedded.uri)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_app(app, settings.HOST, settings.PORT, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://{settings.HOST}:{settings.PORT}") as client:
            for _ in range(200):
                try:
                    ready = await client.get("/readyz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.025)
            assert ready.status_code == 200

            embedded.stop()
            stopped = await client.get("/readyz")
            assert stopped.status_code == 503
            assert "embedded MongoDB server" in stopped.json()["database"]
    finally:
        stop.set()
        await task
        embedded.stop()


async def test_metrics_not_public_with_metrics_port(start_server):
    server = await start_server(METRICS_PORT=9)
    assert (await server.client.get("/metrics")).status_code == 404


async def test_metrics_served_by_default(live_server):
    response = await live_server.client.get("/metrics")
    assert response.status_code == 200
    assert "intercom_webhooks_received_total" in response.text


def test_manifest_lists_every_setting():
    env = manifest()["env"]
    assert list(env) == list(Settings.model_fields)
    for name in REQUIRED_IN_PRODUCTION:
        assert env[name]["required"] is True


def test_app_json_is_up_to_date():
    stored = json.loads((REPO_ROOT / "app.json").read_text())
    assert stored == manifest(), "app.json is stale: run `.venv/bin/python -m app.manifest`"


def test_readme_settings_table_is_up_to_date():
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(TABLE_START)
    end = readme.index(TABLE_END) + len(TABLE_END)
    assert readme[start:end] == settings_table(), "README is stale: run `.venv/bin/python -m app.manifest`"


def test_serve_rejects_busy_port(tmp_path, monkeypatch):
    import socket

    from click.testing import CliRunner

    from app.cli import cli

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])

    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "mongo" / "nx-27017.pid").exists()


def test_port_check_ignores_time_wait():
    import socket

    from app.cli import _check_port_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        # The server side closes first, as Hypercorn does, so its socket stays in TIME_WAIT.
        accepted.close()
        client.recv(1)
        client.close()

    _check_port_free("127.0.0.1", port)
