from pathlib import Path

import pytest

from app.settings import REQUIRED_IN_PRODUCTION, SettingsError, load_settings


def test_development_generates_and_keeps_secrets(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("INTERCOM_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEYS", "MONGODB_URI"):
        monkeypatch.delenv(name, raising=False)

    first = load_settings(DATA_DIR=tmp_path / "data")
    second = load_settings(DATA_DIR=tmp_path / "data")

    assert first.INTERCOM_CLIENT_SECRET
    assert first.INTERCOM_CLIENT_SECRET == second.INTERCOM_CLIENT_SECRET
    assert first.TOKEN_ENCRYPTION_KEYS == second.TOKEN_ENCRYPTION_KEYS
    secret_file = tmp_path / "data" / "dev-client-secret"
    assert secret_file.stat().st_mode & 0o077 == 0
    assert str(secret_file) in capsys.readouterr().err


def test_production_names_every_missing_variable(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in REQUIRED_IN_PRODUCTION:
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SettingsError) as raised:
        load_settings(APP_ENV="production", DATA_DIR=tmp_path)

    for name in REQUIRED_IN_PRODUCTION:
        assert name in str(raised.value)


def test_invalid_encryption_key_is_named(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="TOKEN_ENCRYPTION_KEYS entry 2"):
        load_settings(
            DATA_DIR=tmp_path,
            INTERCOM_CLIENT_SECRET="s",
            TOKEN_ENCRYPTION_KEYS="ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=,not-a-key",
        )


def test_comma_separated_lists_are_split(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8")
    settings = load_settings(DATA_DIR=tmp_path)
    assert settings.TRUSTED_PROXIES == ["10.0.0.1", "10.0.0.0/8"]


def test_body_limit_below_document_limit(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="WEBHOOK_MAX_BODY_BYTES: Input should be less than or equal to 15728640"):
        load_settings(DATA_DIR=tmp_path, INTERCOM_CLIENT_SECRET="s", WEBHOOK_MAX_BODY_BYTES=20_000_000)
