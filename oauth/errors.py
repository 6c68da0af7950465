"""Errors of the `oauth` package. Every message is safe to show a teammate and names no secret.

    IntercomApiError          a call to Intercom's REST API failed
    ├── InstallationInactive  no active installation: never installed, uninstalled or revoked
    └── Unauthorized          Intercom returned 401, so the installation is now revoked
    InstallError              the OAuth install failed; the message is shown to the admin
"""

from __future__ import annotations

__all__ = ["InstallError", "InstallationInactive", "IntercomApiError", "Unauthorized"]


class IntercomApiError(Exception):
    """Raised when a call to Intercom's API fails; `str()` explains it for a teammate."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InstallationInactive(IntercomApiError):
    """Raised before any request when the workspace has no active installation."""


class Unauthorized(IntercomApiError):
    """Raised when Intercom rejects the token with 401; the installation is marked revoked."""


class InstallError(Exception):
    """Raised when an OAuth install cannot finish; `str()` is shown to the installing admin."""
