"""Metrics, error streaks and rate-limited warnings of the webhook receiver."""

from __future__ import annotations

import re

from oauth.signing import sign_hub
from tests.webhook_requests import WEBHOOK_PATH, make_body, post_signed
from webhooks.ingest_metrics import ErrorStreaks
from webhooks.logs import RateLimitedLog


def metric_value(text: str, name: str, **labels: str) -> float:
    """Return one sample from Prometheus text output, 0 when it is absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_outcomes(live_server):
    before = (await live_server.client.get("/metrics")).text
    body = make_body(topic="conversation.user.replied")

    await post_signed(live_server.client, body)
    await post_signed(live_server.client, body)
    await live_server.client.post(WEBHOOK_PATH, content=body, headers={"X-Hub-Signature": sign_hub(body, "x")})
    after = (await live_server.client.get("/metrics")).text

    name = "intercom_webhooks_received_total"
    for outcome, topic in (("stored", "conversation.user.replied"), ("duplicate", "conversation.user.replied"),
                           ("bad_signature", "")):
        labels = {"app": "default", "topic": topic, "outcome": outcome}
        assert metric_value(after, name, **labels) - metric_value(before, name, **labels) == 1, outcome
    ack = {"app": "default", "status": "200"}
    ack_count = "intercom_webhook_ack_seconds_count"
    assert metric_value(after, ack_count, **ack) - metric_value(before, ack_count, **ack) == 2
    assert metric_value(after, "intercom_webhook_consecutive_errors", app="default") == 1


async def test_long_topic_labelled_other(live_server):
    topic = "conversation." + "x" * 1000
    before = (await live_server.client.get("/metrics")).text

    response = await post_signed(live_server.client, make_body(topic=topic))
    after = (await live_server.client.get("/metrics")).text

    labels = {"app": "default", "topic": "other", "outcome": "stored"}
    name = "intercom_webhooks_received_total"
    assert response.status_code == 200
    assert metric_value(after, name, **labels) - metric_value(before, name, **labels) == 1
    assert topic not in after


class RecordingLogger:
    """A logger that keeps each call as (level, event, fields)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    def warning(self, event: str, **fields) -> None:
        self.calls.append(("warning", event, fields))

    def error(self, event: str, **fields) -> None:
        self.calls.append(("error", event, fields))


async def test_bad_signature_warnings_rate_limited(live_server):
    body = make_body()
    recorder = RecordingLogger()
    live_server.app.extensions["webhook_receiver"].warnings = RateLimitedLog(recorder)

    for _ in range(20):
        response = await live_server.client.post(
            WEBHOOK_PATH, content=body, headers={"X-Hub-Signature": sign_hub(body, "x")}
        )
        assert response.status_code == 401

    warnings = [fields for level, event, fields in recorder.calls if event == "webhook.bad_signature"]
    assert len(warnings) == 1
    assert warnings[0]["app"] == "default"
    assert "X-Hub-Signature" in warnings[0]["reason"]


def test_error_streak_warns_near_pause():
    recorder = RecordingLogger()
    streaks = ErrorStreaks(recorder)

    for _ in range(99):
        streaks.record("streak-app", 503)
    assert recorder.calls == []
    assert streaks.record("streak-app", 503) == 100

    level, event, fields = recorder.calls[0]
    assert level == "warning"
    assert event == "webhook.error_streak"
    assert fields["consecutive_errors"] == 100
    assert fields["pause_threshold"] == 1000
    assert streaks.record("streak-app", 200) == 0
    assert streaks.record("streak-app", 401) == 1


def test_rate_limited_log_counts_suppressed():
    now = [0.0]
    recorder = RecordingLogger()
    limited = RateLimitedLog(recorder, interval=60.0, clock=lambda: now[0])

    first = limited.warning("bad", key="a", app="a")
    repeats = [limited.warning("bad", key="a", app="a") for _ in range(5)]
    other_key = limited.warning("bad", key="b", app="b")
    now[0] = 61.0
    later = limited.error("bad", key="a", app="a")

    assert first is True
    assert repeats == [False] * 5
    assert other_key is True
    assert later is True
    assert [fields.get("suppressed") for _, _, fields in recorder.calls] == [None, None, 5]
    assert recorder.calls[-1][0] == "error"
