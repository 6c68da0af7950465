"""`intercom-app preview FILE`: writes the HTML page, and names the problem for bad files."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.conftest import INTERCOM_FIXTURES


@pytest.fixture
def run_preview(tmp_path):
    """Return a function running `intercom-app preview` with DATA_DIR inside tmp_path."""

    def run(*args: str):
        return CliRunner().invoke(cli, ["preview", *args], env={"DATA_DIR": str(tmp_path / "data")})

    return run


def test_preview_writes_output_file(run_preview, tmp_path):
    output = tmp_path / "out.html"

    result = run_preview(str(INTERCOM_FIXTURES / "canvas.components.all.response.json"), "-o", str(output))

    assert result.exit_code == 0, result.output
    page = output.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert 'data-type="checkbox"' in page
    assert "Canvas preview: canvas.components.all.response.json" in page


def test_preview_default_output_path(run_preview, tmp_path):
    source = tmp_path / "live.json"
    shutil.copy(INTERCOM_FIXTURES / "canvas.live.response.json", source)

    result = run_preview(str(source))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "live.html").exists()
    assert f"wrote {tmp_path / 'live.html'}" in result.output


def test_preview_to_standard_output(run_preview):
    result = run_preview(str(INTERCOM_FIXTURES / "canvas.messenger.error.response.json"), "-o", "-")

    assert result.exit_code == 0, result.output
    assert "That email address doesn&#x27;t look right." in result.output


def test_preview_invalid_json_fails(run_preview, tmp_path):
    source = tmp_path / "broken.json"
    source.write_text('{"canvas": ', encoding="utf-8")

    result = run_preview(str(source))

    assert result.exit_code == 1
    assert f"{source} is not valid JSON" in result.output
    assert not (tmp_path / "broken.html").exists()


def test_preview_non_canvas_fails(run_preview):
    result = run_preview(str(INTERCOM_FIXTURES / "webhook.ping.json"), "-o", "-")

    assert result.exit_code == 1
    assert "contains no canvas" in result.output
    assert "no canvas found" in result.output


def test_preview_missing_file_fails(run_preview, tmp_path):
    result = run_preview(str(tmp_path / "absent.json"))

    assert result.exit_code == 2
    assert "does not exist" in result.output
