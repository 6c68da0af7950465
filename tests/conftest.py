"""Shared test fixtures: one embedded MongoDB per test run, a fresh database per test, and
live servers on loopback that tests reach over real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.embedded_db import EmbeddedMongo
from app.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
INTERCOM_FIXTURES = SHARED_DIR / "fixtures" / "intercom"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures"
OPENAPI_DIR = SHARED_DIR / "reference" / "intercom-openapi"

# The throwaway secret the shared fixtures' signatures.json was computed with.
TEST_CLIENT_SECRET = "test_client_secret_not_real"
TEST_ENCRYPTION_KEY = "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="
TEST_WORKSPACE_ID = "ws7k2p9q"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory):
    """The MongoDB URI for the whole run: MONGODB_URI if set, else one embedded server."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    with EmbeddedMongo(tmp_path_factory.mktemp("embedded-mongo")) as embedded:
        yield embedded.uri


@pytest.fixture
def make_settings(tmp_path: Path, mongo_uri: str):
    """Return a function building Settings for one test, on a database of its own."""
    database = f"test_{uuid.uuid4().hex[:12]}"

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "APP_ENV": "development",
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": database,
            "DATA_DIR": tmp_path / "data",
            "INTERCOM_CLIENT_ID": "test-client-id",
            "INTERCOM_CLIENT_SECRET": TEST_CLIENT_SECRET,
            "TOKEN_ENCRYPTION_KEYS": [TEST_ENCRYPTION_KEY],
            "HOST": "127.0.0.1",
            "PORT": free_port(),
            "LOG_FORMAT": "console",
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@dataclass
class LiveServer:
    """A service running in the test's event loop, reached over loopback HTTP."""

    app: object
    settings: Settings
    url: str
    client: httpx.AsyncClient
    _stop: asyncio.Event
    _task: asyncio.Task

    @property
    def services(self):
        return self.app.extensions["intercom"]

    @property
    def database(self):
        return self.services.database

    async def stop(self) -> None:
        if self._task.done():
            return
        self._stop.set()
        await self._task
        await self.client.aclose()


@pytest.fixture
async def start_server(make_settings):
    """Return a function that starts a live server with setting overrides; all stop at teardown."""
    from app.factory import create_app
    from app.server import serve_app

    servers: list[LiveServer] = []

    async def start(**overrides: object) -> LiveServer:
        settings = make_settings(**overrides)
        app = create_app(settings, mongo_uri=settings.MONGODB_URI)
        stop = asyncio.Event()
        task = asyncio.create_task(serve_app(app, settings.HOST, settings.PORT, stop))
        url = f"http://{settings.HOST}:{settings.PORT}"
        client = httpx.AsyncClient(base_url=url, timeout=10.0)
        server = LiveServer(app, settings, url, client, stop, task)
        servers.append(server)
        await _wait_until_serving(client, task)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def live_server(start_server) -> LiveServer:
    """A live server with the default test settings."""
    return await start_server()


async def _wait_until_serving(client: httpx.AsyncClient, task: asyncio.Task) -> None:
    for _ in range(200):
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError("the test server stopped during start-up")
        try:
            response = await client.get("/healthz")
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.025)
    raise RuntimeError("the test server did not answer /healthz within 5 s")
