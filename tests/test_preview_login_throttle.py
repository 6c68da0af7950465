"""LoginThrottle: failures per client within a time window."""

from __future__ import annotations

import time

from app.admin_auth import LoginThrottle, password_matches, safe_next


def test_throttle_blocks_after_max_failures():
    throttle = LoginThrottle(max_failures=3, window_seconds=60)

    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.record_failure("10.0.0.1")

    assert 1 <= throttle.retry_after("10.0.0.1") <= 61
    assert throttle.retry_after("10.0.0.2") == 0


def test_throttle_forgets_old_failures(monkeypatch):
    throttle = LoginThrottle(max_failures=2, window_seconds=60)
    start = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: start)
    throttle.record_failure("client")
    throttle.record_failure("client")
    assert throttle.retry_after("client") > 0

    monkeypatch.setattr(time, "monotonic", lambda: start + 61)

    assert throttle.retry_after("client") == 0


def test_throttle_reset_clears_client():
    throttle = LoginThrottle(max_failures=1, window_seconds=60)
    throttle.record_failure("client")

    throttle.reset("client")

    assert throttle.retry_after("client") == 0


def test_throttle_bounds_tracked_clients():
    throttle = LoginThrottle(max_failures=1, window_seconds=60, max_clients=2)

    for client in ("a", "b", "c"):
        throttle.record_failure(client)

    assert throttle.retry_after("a") == 0
    assert throttle.retry_after("c") > 0


def test_password_matches_exact_only():
    assert password_matches("secret", "secret")
    assert not password_matches("secret ", "secret")
    assert not password_matches("", "secret")


def test_safe_next_keeps_admin_paths():
    assert safe_next("/admin/canvas-preview") == "/admin/canvas-preview"
    assert safe_next("https://evil.example.com/admin/") == "/admin/canvas-preview"
