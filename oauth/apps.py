"""The registry of Intercom apps this deployment serves, keyed by the `{app}` URL segment."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["DEFAULT_APP_KEY", "AppRegistry", "RegisteredApp"]

DEFAULT_APP_KEY = "default"


@dataclass(frozen=True)
class RegisteredApp:
    """One Intercom app: its key, OAuth client id and client secrets (current one first)."""

    key: str
    client_id: str
    client_secrets: tuple[str, ...]

    def __repr__(self) -> str:
        # Never show secrets in logs or tracebacks.
        return f"RegisteredApp(key={self.key!r}, client_id={self.client_id!r}, secrets=<{len(self.client_secrets)}>)"


class AppRegistry:
    """Look up apps: `default` from the environment, others from the `apps` collection.

    Lookups are cached for `cache_seconds`, so a hot path pays one dictionary read.
    """

    def __init__(
        self,
        database: AsyncDatabase | None,
        default_app: RegisteredApp | None,
        *,
        decrypt=None,
        cache_seconds: float = 30.0,
    ) -> None:
        self._database = database
        self._default = default_app
        self._decrypt = decrypt
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, RegisteredApp | None]] = {}

    async def get(self, key: str) -> RegisteredApp | None:
        """Return the app registered under `key`, or None when there is none."""
        if key == DEFAULT_APP_KEY and self._default is not None:
            return self._default
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        found = await self._load(key)
        self._cache[key] = (now, found)
        return found

    def forget(self, key: str) -> None:
        """Drop a cached lookup, after the app was added, changed or removed."""
        self._cache.pop(key, None)

    async def _load(self, key: str) -> RegisteredApp | None:
        if self._database is None:
            return None
        document = await self._database.apps.find_one({"_id": key})
        if document is None:
            return None
        encrypted = document.get("client_secrets_encrypted", [])
        secrets = tuple(self._decrypt(value) for value in encrypted) if self._decrypt else ()
        return RegisteredApp(key=key, client_id=document.get("client_id", ""), client_secrets=secrets)
