"""Service settings, read once at start from the environment and an optional `.env`."""

from __future__ import annotations

import os
import sys
import secrets
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

__all__ = ["Settings", "SettingsError", "load_settings"]

# Settings that production refuses to start without. Development fills the secrets in.
REQUIRED_IN_PRODUCTION = (
    "PUBLIC_URL",
    "MONGODB_URI",
    "INTERCOM_CLIENT_ID",
    "INTERCOM_CLIENT_SECRET",
    "TOKEN_ENCRYPTION_KEYS",
    "ADMIN_PASSWORD",
)

DEV_CLIENT_SECRET_FILE = "dev-client-secret"
DEV_ENCRYPTION_KEY_FILE = "dev-token-encryption-key"


class SettingsError(Exception):
    """Raised when the settings cannot start the service; the message names every problem."""


class Settings(BaseSettings):
    """Every setting of the service. Field names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    APP_ENV: Literal["development", "production"] = "development"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=0, le=65535)
    PUBLIC_URL: str = ""
    MONGODB_URI: str = ""
    MONGODB_DATABASE: str = "intercom_app"
    DATA_DIR: Path = Path("data")

    INTERCOM_CLIENT_ID: str = ""
    INTERCOM_CLIENT_SECRET: str = ""
    # Extra secret accepted for signatures while Intercom rotates the client secret.
    INTERCOM_CLIENT_SECRET_PREVIOUS: str = ""
    TOKEN_ENCRYPTION_KEYS: Annotated[list[str], NoDecode] = []
    ADMIN_PASSWORD: str = ""

    INTERCOM_API_VERSION: str = "2.15"
    INTERCOM_API_BASE_URL: str = ""
    INTERCOM_OAUTH_BASE_URL: str = ""

    # MongoDB stores documents of at most 16 MiB, so the body, stored as text, stays below 15 MiB.
    WEBHOOK_MAX_BODY_BYTES: int = Field(default=1_048_576, ge=1024, le=15 * 1024 * 1024)
    # Notifications whose Intercom `created_at` is older than this are acknowledged, not processed.
    WEBHOOK_REPLAY_WINDOW_SECONDS: int = Field(default=7 * 24 * 3600, ge=60)
    WEBHOOK_IP_ALLOWLIST: str = ""
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = []

    WORKERS_IN_PROCESS: bool = True
    WORKER_CONCURRENCY: int = Field(default=8, ge=1, le=256)
    WORKER_LEASE_SECONDS: float = Field(default=30.0, gt=0)
    WORKER_MAX_ATTEMPTS: int = Field(default=8, ge=1)
    WORKER_BACKOFF_BASE_SECONDS: float = Field(default=2.0, gt=0)
    WORKER_BACKOFF_MAX_SECONDS: float = Field(default=3600.0, gt=0)
    WORKER_SHUTDOWN_SECONDS: float = Field(default=20.0, gt=0)
    NOTIFICATION_RETENTION_DAYS: int = Field(default=30, ge=1)
    UNINSTALL_PURGE_DAYS: int = Field(default=30, ge=0)

    CANVAS_TIME_BUDGET_SECONDS: float = Field(default=0.8, gt=0, le=10)

    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console", ""] = ""
    METRICS_PORT: int = Field(default=0, ge=0, le=65535)

    # Webhook ingest.
    # Whether notifications older than WEBHOOK_REPLAY_WINDOW_SECONDS are ignored: `auto` is on in
    # production and off in development, where the sample notifications are months old.
    WEBHOOK_REPLAY_PROTECTION: Literal["auto", "on", "off"] = "auto"
    # Seconds a webhook waits for its insert to be acknowledged before the response is 503.
    # Intercom counts a response after 5 seconds as a failure.
    WEBHOOK_INSERT_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0, le=4.5)
    # Admin pages and the canvas preview
    ADMIN_SESSION_SECONDS: int = Field(default=12 * 3600, ge=60)
    # Installation, OAuth, API client and backfill (oauth package).
    # Regional REST hosts. Empty means INTERCOM_API_BASE_URL when that is set, so one fake
    # Intercom can stand in for every region, and otherwise Intercom's EU or AU host.
    INTERCOM_API_BASE_URL_EU: str = ""
    INTERCOM_API_BASE_URL_AU: str = ""
    INTERCOM_API_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0)
    INTERCOM_API_MAX_RETRIES: int = Field(default=4, ge=0)
    INTERCOM_API_BACKOFF_BASE_SECONDS: float = Field(default=0.5, gt=0)
    INTERCOM_API_BACKOFF_MAX_SECONDS: float = Field(default=30.0, gt=0)
    # Maximum wait for a rate-limit window to reset; a longer wait fails the call.
    INTERCOM_API_MAX_RATE_LIMIT_WAIT_SECONDS: float = Field(default=60.0, gt=0)
    # Calls per minute for the whole app across workspaces, spent in 10-second windows.
    INTERCOM_API_APP_CALLS_PER_MINUTE: int = Field(default=10_000, ge=6)
    # Calls one workspace may have in flight at once, so it cannot crowd out the others.
    INTERCOM_API_CONCURRENCY_PER_WORKSPACE: int = Field(default=4, ge=1)
    # Maximum time a health-check reply waits for a token check before using what is stored.
    HEALTH_CHECK_BUDGET_SECONDS: float = Field(default=0.5, gt=0, le=5)
    # How long a successful token check is reused before the token is checked again.
    HEALTH_CHECK_CACHE_SECONDS: float = Field(default=3600.0, ge=0)
    # Backfill fetches tickets and conversations updated in the last BACKFILL_DAYS days.
    BACKFILL_ON_INSTALL: bool = True
    BACKFILL_DAYS: int = Field(default=30, ge=1)
    BACKFILL_PAGE_SIZE: int = Field(default=50, ge=1, le=150)
    # How often the service deletes the data of workspaces uninstalled UNINSTALL_PURGE_DAYS ago.
    UNINSTALL_PURGE_INTERVAL_SECONDS: float = Field(default=3600.0, gt=0)

    @field_validator("TOKEN_ENCRYPTION_KEYS", "TRUSTED_PROXIES", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @property
    def log_format(self) -> str:
        """Return the log format: the explicit setting, else JSON in production."""
        if self.LOG_FORMAT:
            return self.LOG_FORMAT
        return "json" if self.is_production else "console"

    @property
    def public_url(self) -> str:
        """Return the base URL Intercom and browsers reach us at, without a trailing slash."""
        if self.PUBLIC_URL:
            return self.PUBLIC_URL.rstrip("/")
        return f"http://{self.HOST}:{self.PORT}"

    def client_secrets(self) -> list[str]:
        """Return the default app's client secrets, the current one first."""
        return [s for s in (self.INTERCOM_CLIENT_SECRET, self.INTERCOM_CLIENT_SECRET_PREVIOUS) if s]

    # Notification processing
    # Import paths of modules with a `register(registry)` function that adds handlers.
    HANDLER_MODULES: Annotated[list[str], NoDecode] = []
    # Seconds an idle worker waits before looking for due notifications again.
    WORKER_POLL_SECONDS: float = Field(default=1.0, gt=0)
    # Seconds the handlers of one notification may run before the attempt counts as failed.
    WORKER_HANDLER_TIMEOUT_SECONDS: float = Field(default=300.0, gt=0)
    # Seconds between sweeps that delete expired done notifications.
    RETENTION_SWEEP_SECONDS: float = Field(default=300.0, gt=0)

    @field_validator("HANDLER_MODULES", mode="before")
    @classmethod
    def _split_handler_modules(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the settings, fill in development secrets and check production requirements.

    Raises SettingsError with one message naming every missing or invalid variable.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None

    if settings.is_production:
        missing = [name for name in REQUIRED_IN_PRODUCTION if not getattr(settings, name)]
        if missing:
            raise SettingsError(
                "APP_ENV=production needs these environment variables set: " + ", ".join(missing)
            )
    else:
        _fill_development_secrets(settings)

    _check_encryption_keys(settings.TOKEN_ENCRYPTION_KEYS)
    return settings


def _fill_development_secrets(settings: Settings) -> None:
    """Generate the client secret and encryption key once, keep them in DATA_DIR, print where."""
    if not settings.INTERCOM_CLIENT_SECRET:
        path = settings.DATA_DIR / DEV_CLIENT_SECRET_FILE
        settings.INTERCOM_CLIENT_SECRET = _read_or_create(path, lambda: secrets.token_urlsafe(32))
        print(f"development: INTERCOM_CLIENT_SECRET is read from {path.resolve()}", file=sys.stderr, flush=True)
    if not settings.INTERCOM_CLIENT_ID:
        settings.INTERCOM_CLIENT_ID = "dev-client-id"
    if not settings.TOKEN_ENCRYPTION_KEYS:
        path = settings.DATA_DIR / DEV_ENCRYPTION_KEY_FILE
        settings.TOKEN_ENCRYPTION_KEYS = [_read_or_create(path, lambda: Fernet.generate_key().decode())]
        print(f"development: TOKEN_ENCRYPTION_KEYS is read from {path.resolve()}", file=sys.stderr, flush=True)


def _read_or_create(path: Path, generate) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    # Create with owner-only permissions before writing, so the secret is never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _check_encryption_keys(keys: list[str]) -> None:
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise SettingsError(
                f"TOKEN_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes); generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from None
