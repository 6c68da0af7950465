"""Intercom's two request signatures, checked over the raw body bytes in constant time.

Webhooks carry `X-Hub-Signature: sha1=<hex HMAC-SHA1>`. Canvas Kit requests, the uninstall
notification and the health check carry `X-Body-Signature: <hex HMAC-SHA256>`. Both are keyed
with the app's OAuth client secret; during a rotation any of the app's secrets may match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

__all__ = [
    "BODY_SIGNATURE_HEADER",
    "HUB_SIGNATURE_HEADER",
    "SignatureError",
    "sign_body",
    "sign_hub",
    "verify_body_signature",
    "verify_hub_signature",
]

HUB_SIGNATURE_HEADER = "X-Hub-Signature"
BODY_SIGNATURE_HEADER = "X-Body-Signature"

_SHA1_HEX = re.compile(rb"[0-9a-fA-F]{40}")
_SHA256_HEX = re.compile(rb"[0-9a-fA-F]{64}")


class SignatureError(Exception):
    """Raised when a signature header is missing, malformed or does not match the body."""


def sign_hub(body: bytes, secret: str | bytes) -> str:
    """Return the `X-Hub-Signature` value Intercom sends for `body`."""
    return "sha1=" + hmac.new(_key(secret), body, hashlib.sha1).hexdigest()


def sign_body(body: bytes, secret: str | bytes) -> str:
    """Return the `X-Body-Signature` value Intercom sends for `body`."""
    return hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_hub_signature(body: bytes, header: str | None, secrets: Sequence[str | bytes]) -> None:
    """Check `X-Hub-Signature` against `body`; raise SignatureError naming the problem."""
    value = _header_bytes(HUB_SIGNATURE_HEADER, header)
    if not value.startswith(b"sha1="):
        raise SignatureError(f"{HUB_SIGNATURE_HEADER} header must start with 'sha1='")
    digest = value[len(b"sha1="):]
    if not _SHA1_HEX.fullmatch(digest):
        raise SignatureError(
            f"{HUB_SIGNATURE_HEADER} header must be 'sha1=' followed by 40 hex characters"
        )
    _compare(digest.lower(), body, secrets, hashlib.sha1, HUB_SIGNATURE_HEADER)


def verify_body_signature(body: bytes, header: str | None, secrets: Sequence[str | bytes]) -> None:
    """Check `X-Body-Signature` against `body`; raise SignatureError naming the problem."""
    digest = _header_bytes(BODY_SIGNATURE_HEADER, header)
    if not _SHA256_HEX.fullmatch(digest):
        raise SignatureError(f"{BODY_SIGNATURE_HEADER} header must be 64 hex characters")
    _compare(digest.lower(), body, secrets, hashlib.sha256, BODY_SIGNATURE_HEADER)


def _header_bytes(name: str, header: str | None) -> bytes:
    if header is None or not header.strip():
        raise SignatureError(f"{name} header is missing")
    try:
        return header.strip().encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError(f"{name} header contains non-ASCII characters") from None


def _compare(digest: bytes, body: bytes, secrets, algorithm, name: str) -> None:
    if not secrets:
        raise SignatureError(f"{name} cannot be checked: the app has no client secret configured")
    matched = False
    # Check every secret, so the time taken does not tell which one matched.
    for secret in secrets:
        expected = hmac.new(_key(secret), body, algorithm).hexdigest().encode("ascii")
        matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise SignatureError(f"{name} does not match the request body")


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret
