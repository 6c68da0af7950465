"""The registry of Intercom apps this deployment serves, keyed by the `{app}` URL segment."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pymongo
import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from oauth.crypto import DecryptionError

__all__ = [
    "DEFAULT_APP_KEY",
    "UNREADABLE_SECRET_MESSAGE",
    "AppRegistry",
    "AppSecretsUnreadable",
    "AppStore",
    "AppStoreError",
    "RegisteredApp",
    "secrets_update",
]

log = structlog.get_logger(__name__)

# How long past its timeout a lookup may run before asyncio cancels it.
TIMEOUT_GRACE_SECONDS = 0.1
# The timeout of a database read for a caller that gives none. Callers with a longer timeout may
# join the read, so it must end even when the database stops responding.
DEFAULT_LOOKUP_TIMEOUT_SECONDS = 3.0
# The cache also keeps lookups that found no app, so its size is capped against requests
# for made-up app keys.
MAX_CACHED_LOOKUPS = 1024
# The error message for callers when an app's secrets cannot be decrypted: it names no setting.
UNREADABLE_SECRET_MESSAGE = "the service cannot read this app's client secret; retry later"

DEFAULT_APP_KEY = "default"
# App keys appear in URL paths, so they are restricted to URL-safe characters.
_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class RegisteredApp:
    """One Intercom app: its key, OAuth client id and client secrets (current one first)."""

    key: str
    client_id: str
    client_secrets: tuple[str, ...]

    def __repr__(self) -> str:
        # Never show secrets in logs or tracebacks.
        return f"RegisteredApp(key={self.key!r}, client_id={self.client_id!r}, secrets=<{len(self.client_secrets)}>)"


class AppSecretsUnreadable(Exception):
    """Raised when a registered app's client secrets cannot be decrypted with TOKEN_ENCRYPTION_KEYS."""


Lookup = RegisteredApp | None | AppSecretsUnreadable


class AppRegistry:
    """Look up apps: `default` from the environment, others from the `apps` collection.

    Lookups are cached for `cache_seconds`, so a hot path pays one dictionary read. When the
    database fails a lookup, an earlier result is kept for another `cache_seconds`, so a
    database outage does not also make every request wait for the lookup. Concurrent lookups
    of one key share one database read, so a burst of requests for an app that is not cached
    (at start, or when its entry expires) costs one query rather than one per request.
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
        self._cache: dict[str, tuple[float, Lookup]] = {}
        self._loading: dict[str, asyncio.Task[Lookup]] = {}
        # Incremented by `forget`, so a lookup that started before a change is not cached after it.
        self._generation = 0

    @property
    def cached_lookups(self) -> int:
        """How many lookups the cache holds, found or not; at most MAX_CACHED_LOOKUPS."""
        return len(self._cache)

    def peek(self, key: str) -> RegisteredApp | None:
        """Return the app under `key` when it is known without a database lookup, else None."""
        if key == DEFAULT_APP_KEY and self._default is not None:
            return self._default
        cached = self._cache.get(key)
        if cached is None or time.monotonic() - cached[0] >= self._cache_seconds:
            return None
        return cached[1] if isinstance(cached[1], RegisteredApp) else None

    async def get(self, key: str, *, timeout: float | None = None) -> RegisteredApp | None:
        """Return the app registered under `key`, or None when there is none.

        With `timeout`, a database lookup that takes longer fails with PyMongo's timeout error
        or TimeoutError, unless an earlier result of the lookup is cached. Raises
        AppSecretsUnreadable when the app's client secrets cannot be decrypted. That result is
        cached too, so a missing encryption key costs one database read and one log line per
        `cache_seconds`.
        """
        if key == DEFAULT_APP_KEY and self._default is not None:
            return self._default
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_seconds:
            return _result(cached[1])
        if not _KEY_PATTERN.fullmatch(key):
            # No app can be registered under such a key, so it is neither looked up nor cached.
            return None

        loading = self._loading.get(key)
        if loading is None:
            read_timeout = DEFAULT_LOOKUP_TIMEOUT_SECONDS if timeout is None else timeout
            loading = asyncio.create_task(self._lookup(key, cached, read_timeout))
            self._loading[key] = loading
            loading.add_done_callback(lambda task: self._finished(key, task))
        try:
            # Shielded: a caller that is cancelled (its client went away) leaves the read to the others.
            async with asyncio.timeout(None if timeout is None else timeout + TIMEOUT_GRACE_SECONDS):
                found = await asyncio.shield(loading)
        except TimeoutError:
            # A caller can join a read started with a longer timeout, and stops waiting at its own.
            # The read logs its own failure, so this line is only for debugging.
            if cached is None:
                raise
            log.debug("apps.lookup_timed_out", app=key, timeout_seconds=timeout, using="cached result")
            found = cached[1]
        return _result(found)

    async def _lookup(self, key: str, cached: tuple[float, Lookup] | None, timeout: float) -> Lookup:
        """Read `key` from the database and cache the result. Concurrent `get` calls share one run."""
        generation = self._generation
        now = time.monotonic()
        found: Lookup
        try:
            found = await self._load_within(key, timeout)
        except AppSecretsUnreadable as error:
            log.error("apps.secrets_unreadable", app=key, error=str(error))
            found = error
        except (PyMongoError, TimeoutError) as error:
            if cached is None:
                raise
            log.warning("apps.lookup_failed", app=key, error=f"{type(error).__name__}: {error}", using="cached result")
            found = cached[1]
        if generation == self._generation:
            self._remember(key, now, found)
        return found

    def _finished(self, key: str, task: asyncio.Task[Lookup]) -> None:
        # After `forget`, a newer read of the key may be running, and that one stays registered.
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            # Mark the error as retrieved: when every caller has gone, no one reads it, and asyncio
            # would log it with a traceback as never retrieved.
            task.exception()

    def _remember(self, key: str, now: float, lookup: Lookup) -> None:
        # Re-inserted at the end, so the cache keeps its entries in the order they were looked up.
        self._cache.pop(key, None)
        if len(self._cache) >= MAX_CACHED_LOOKUPS:
            self._evict(now)
        self._cache[key] = (now, lookup)

    def _evict(self, now: float) -> None:
        """Make room for one lookup in the full cache.

        The oldest lookup that found no app goes first, so requests for made-up keys cannot push
        registered apps out. An expired app entry still serves while the database is down, so
        registered apps are dropped only when the cache contains nothing else.
        """
        misses = (name for name, entry in self._cache.items() if not isinstance(entry[1], RegisteredApp))
        miss = next(misses, None)
        if miss is not None:
            del self._cache[miss]
            return
        self._cache = {name: entry for name, entry in self._cache.items() if now - entry[0] < self._cache_seconds}
        if len(self._cache) >= MAX_CACHED_LOOKUPS:
            del self._cache[next(iter(self._cache))]

    async def _load_within(self, key: str, timeout: float | None) -> RegisteredApp | None:
        if timeout is None:
            return await self._load(key)
        # PyMongo ends the lookup cleanly at the timeout, but its server selection can overrun it
        # (by half a second in a test with a stalled server), so the asyncio timeout cuts it off.
        async with asyncio.timeout(timeout + TIMEOUT_GRACE_SECONDS):
            with pymongo.timeout(timeout):
                return await self._load(key)

    def forget(self, key: str) -> None:
        """Drop a cached lookup, after the app was added, changed or removed."""
        self._cache.pop(key, None)
        self._loading.pop(key, None)
        self._generation += 1

    async def _load(self, key: str) -> RegisteredApp | None:
        if self._database is None:
            return None
        document = await self._database.apps.find_one({"_id": key})
        if document is None:
            return None
        encrypted = document.get("client_secrets_encrypted", [])
        try:
            secrets = tuple(self._decrypt(value) for value in encrypted) if self._decrypt else ()
        except DecryptionError:
            raise AppSecretsUnreadable(
                f"the client secrets of app {key!r} cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS; "
                "add the key they were encrypted with"
            ) from None
        return RegisteredApp(key=key, client_id=document.get("client_id", ""), client_secrets=secrets)


class AppStoreError(Exception):
    """Raised when an app cannot be added, changed or removed; the message names the fix."""


class AppStore:
    """Add, list, change and remove the apps in the `apps` collection; secrets are encrypted.

    An app has at most two client secrets: the current one first and, while Intercom
    rotates the secret, the previous one. Both verify signatures; the first one signs OAuth.
    A change clears the cache of the registry passed in. Other processes, such as a running
    service changed from the CLI, see it once their 30-second cache entry expires.
    """

    def __init__(self, database: AsyncDatabase, *, encrypt, registry: AppRegistry | None = None) -> None:
        self._collection = database.apps
        self._encrypt = encrypt
        self._registry = registry

    async def add(self, key: str, client_id: str, client_secret: str) -> str:
        """Register the app, or add `client_secret` as the current secret of an existing one.

        Returns `added` or `secret_added`.
        """
        _check_key(key)
        if not client_id or not client_secret:
            raise AppStoreError("both a client id and a client secret are required")
        existing = await self._collection.find_one({"_id": key})
        if existing is None:
            await self._collection.insert_one({
                "_id": key,
                "client_id": client_id,
                "client_secrets_encrypted": [self._encrypt(client_secret)],
                "secrets_version": _new_secrets_version(),
                "created_at": datetime.now(UTC),
            })
            self._forget(key)
            return "added"
        if existing.get("client_id") != client_id:
            raise AppStoreError(
                f"app {key!r} is registered with another client id; remove it first to change the client id"
            )
        await self._push_secret(existing, client_secret)
        return "secret_added"

    async def rotate_secret(self, key: str, client_secret: str) -> None:
        """Make `client_secret` the app's current secret and keep the previous one for signatures."""
        existing = await self._collection.find_one({"_id": key})
        if existing is None:
            raise AppStoreError(f"no app is registered under the key {key!r}; add it with `apps add`")
        await self._push_secret(existing, client_secret)

    async def remove(self, key: str) -> bool:
        """Remove the app; return False when it was not registered."""
        _check_key(key)
        result = await self._collection.delete_one({"_id": key})
        self._forget(key)
        return bool(result.deleted_count)

    async def list(self) -> list[dict]:
        """Return every registered app as {key, client_id, secrets, created_at}, without secrets."""
        apps = []
        async for document in self._collection.find({}).sort("_id", 1):
            apps.append({
                "key": document["_id"],
                "client_id": document.get("client_id", ""),
                "secrets": len(document.get("client_secrets_encrypted", [])),
                "created_at": document.get("created_at"),
            })
        return apps

    async def _push_secret(self, existing: dict, client_secret: str) -> None:
        secrets = [self._encrypt(client_secret), *existing.get("client_secrets_encrypted", [])][:2]
        result = await self._collection.update_one(*secrets_update(existing, secrets))
        self._forget(existing["_id"])
        if result.matched_count == 0:
            raise AppStoreError(
                f"the secrets of app {existing['_id']!r} changed while this command ran; run it again"
            )

    def _forget(self, key: str) -> None:
        if self._registry is not None:
            self._registry.forget(key)


def secrets_update(existing: dict, secrets: list[str]) -> tuple[dict, dict]:
    """Return the filter and update that set an app's encrypted `secrets`, unless it changed since `existing` was read.

    Every change of `client_secrets_encrypted` goes through this, so two changes at once cannot
    lose one of them: the second matches nothing. The guard is `secrets_version`, a random token
    that each change replaces, so an app removed and added again under the same key never
    matches a stale read. NOTE: a token, because nx-27017 0.8.1 rejects a query that matches an
    array by equality.
    """
    version = existing.get("secrets_version")
    query = {"_id": existing["_id"], "secrets_version": {"$exists": False} if version is None else version}
    return query, {"$set": {"client_secrets_encrypted": secrets, "secrets_version": _new_secrets_version()}}


def _new_secrets_version() -> str:
    return uuid.uuid4().hex


def _result(lookup: Lookup) -> RegisteredApp | None:
    if isinstance(lookup, AppSecretsUnreadable):
        # A new exception each time: raising the cached one again would grow its traceback.
        raise AppSecretsUnreadable(str(lookup))
    return lookup


def _check_key(key: str) -> None:
    if key == DEFAULT_APP_KEY:
        raise AppStoreError(
            "the app key 'default' is configured by INTERCOM_CLIENT_ID and INTERCOM_CLIENT_SECRET; choose another key"
        )
    if not _KEY_PATTERN.fullmatch(key):
        raise AppStoreError(
            f"app key {key!r} is invalid: use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )
