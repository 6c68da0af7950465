"""Access control for the admin pages: the password check, the session cookie and a login throttle.

The session cookie is signed with a key derived from ADMIN_PASSWORD and the first token
encryption key, so changing either ends every session. It carries a fixed payload and the
time it was issued, and expires after ADMIN_SESSION_SECONDS.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict, deque

from itsdangerous import BadSignature, URLSafeTimedSerializer

__all__ = [
    "LOOPBACK_HOSTS",
    "SESSION_COOKIE",
    "LoginThrottle",
    "is_protected",
    "password_matches",
    "safe_next",
    "session_is_valid",
    "session_value",
]

SESSION_COOKIE = "admin_session"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_NEXT = "/admin/canvas-preview"


def is_protected(settings) -> bool:
    """Return True when the admin pages need a login: in production or with ADMIN_PASSWORD set."""
    return settings.is_production or bool(settings.ADMIN_PASSWORD)


def password_matches(submitted: str, expected: str) -> bool:
    """Compare passwords in constant time."""
    # Compare digests, so the time taken depends on neither password's length.
    submitted_digest = hashlib.sha256(submitted.encode("utf-8")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(submitted_digest, expected_digest)


def session_value(settings) -> str:
    """Return a new signed session cookie value."""
    return _serializer(settings).dumps({"admin": True})


def session_is_valid(settings, cookie: str | None) -> bool:
    """Return True when `cookie` carries our signature and is younger than ADMIN_SESSION_SECONDS."""
    if not cookie:
        return False
    try:
        _serializer(settings).loads(cookie, max_age=settings.ADMIN_SESSION_SECONDS)
    except BadSignature:
        return False
    return True


def safe_next(target: str) -> str:
    """Return `target` when it is a path under /admin/, else the preview path, so login never redirects off-site."""
    if target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return DEFAULT_NEXT


class LoginThrottle:
    """Count failed logins per client address and block an address after `max_failures` in `window_seconds`.

    NOTE: the counts live in this process only. Each web node therefore allows its own
    `max_failures`, and a proxy in front of all nodes can enforce one shared limit.
    """

    def __init__(self, *, max_failures: int = 5, window_seconds: float = 300.0, max_clients: int = 10_000) -> None:
        self._max_failures = max_failures
        self._window = window_seconds
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int:
        """Return the seconds until `client` may try again, or 0 when it may try now."""
        failures = self._recent(client)
        if len(failures) < self._max_failures:
            return 0
        return max(1, int(failures[0] + self._window - time.monotonic()) + 1)

    def record_failure(self, client: str) -> None:
        """Count one failed login for `client`."""
        failures = self._recent(client)
        failures.append(time.monotonic())
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)

    def reset(self, client: str) -> None:
        """Forget the failures of `client` after a successful login."""
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client, deque())
        cutoff = time.monotonic() - self._window
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures


def _serializer(settings) -> URLSafeTimedSerializer:
    server_key = settings.TOKEN_ENCRYPTION_KEYS[0] if settings.TOKEN_ENCRYPTION_KEYS else ""
    key = hashlib.sha256(f"admin-session\0{settings.ADMIN_PASSWORD}\0{server_key}".encode("utf-8")).digest()
    return URLSafeTimedSerializer(key, salt="admin-session")
