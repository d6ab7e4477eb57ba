"""Failure alerts for the Airflow DAGs: a log line always, a webhook and an email when configured.

Airflow calls `on_failure` when a task has failed for good (its retries are spent). The
alert names the DAG, task, run and data interval, the error in one line, the task log and
the runbook page for that kind of task, so the on-call engineer can start from the message.

Channels, all from the environment (no secret lives in code or configuration files):

* always: an ERROR log line from the `headwater.alerts` logger (in the task log);
* `HEADWATER_ALERT_WEBHOOK_URL`: a JSON POST with a `text` field, which Slack incoming
  webhooks, Mattermost, Rocket.Chat and Teams workflows accept;
* `HEADWATER_ALERT_EMAIL_TO` plus `HEADWATER_SMTP_HOST` (and optionally `HEADWATER_SMTP_PORT`,
  `HEADWATER_SMTP_USER`, `HEADWATER_SMTP_PASSWORD`, `HEADWATER_SMTP_FROM`,
  `HEADWATER_SMTP_STARTTLS`): a plain-text email.

A failing channel is logged and never raises: an alert must not hide the failure it reports.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from headwater.db import redact

log = logging.getLogger(__name__)

WEBHOOK_ENV = "HEADWATER_ALERT_WEBHOOK_URL"
EMAIL_TO_ENV = "HEADWATER_ALERT_EMAIL_TO"
SMTP_HOST_ENV = "HEADWATER_SMTP_HOST"
RUNBOOKS_URL_ENV = "HEADWATER_RUNBOOKS_URL"
TIMEOUT_SECONDS = 10

# Which runbook answers a failure of which task. Keys match task ids (a prefix for dbt tasks).
RUNBOOKS: tuple[tuple[str, str], ...] = (
    ("extract_load", "sync-failed.md"),
    ("raw_gate", "gate-failed.md"),
    ("marts_gate", "gate-failed.md"),
    ("publish", "restore-analytics.md"),
    ("dbt", "dbt-test-failed.md"),
)
DEFAULT_RUNBOOK = "README.md"


@dataclass(frozen=True)
class Alert:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int | None
    interval: str
    error: str
    log_url: str | None
    runbook: str

    @property
    def title(self) -> str:
        return f"headwater: {self.dag_id}.{self.task_id} failed"

    def text(self) -> str:
        lines = [
            f":red_circle: {self.title}",
            f"run: {self.run_id} (try {self.try_number or '?'})",
            f"data interval: {self.interval}",
            f"error: {self.error}",
            f"runbook: {self.runbook}",
        ]
        if self.log_url:
            lines.append(f"log: {self.log_url}")
        return "\n".join(lines)


def runbook_for(task_id: str, env: Mapping[str, str] = os.environ) -> str:
    """The runbook page for a task: a URL under HEADWATER_RUNBOOKS_URL, else the repo path."""
    leaf = task_id.split(".", 1)[0]
    page = next((page for prefix, page in RUNBOOKS if leaf.startswith(prefix)), DEFAULT_RUNBOOK)
    base = env.get(RUNBOOKS_URL_ENV, "").rstrip("/")
    return f"{base}/{page}" if base else f"runbooks/{page}"


def build_alert(context: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> Alert:
    """Read what the on-call engineer needs from an Airflow task context."""
    ti = context.get("task_instance") or context.get("ti")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", "?")
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    interval = f"{_iso(start)} → {_iso(end)}" if start or end else "none (manual run)"
    return Alert(
        dag_id=str(dag_id),
        task_id=str(task_id),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "?")),
        try_number=getattr(ti, "try_number", None),
        interval=interval,
        error=_one_line(context.get("exception")),
        log_url=_log_url(ti),
        runbook=runbook_for(str(task_id), env),
    )


def on_failure(context: Mapping[str, Any]) -> None:
    """Airflow `on_failure_callback`: log the alert, then send it to the configured channels."""
    try:
        alert = build_alert(context)
    except Exception:  # never let the alert hide the failure
        log.exception("headwater alert: could not describe the failure")
        return
    notify(alert)


def notify(alert: Alert, env: Mapping[str, str] = os.environ) -> list[str]:
    """Send `alert` to every configured channel; return the channels that took it."""
    log.error("ALERT %s", alert.text().replace("\n", " | "))
    sent = ["log"]
    if url := env.get(WEBHOOK_ENV):
        try:
            post_webhook(url, alert)
            sent.append("webhook")
        except Exception as exc:  # reported, not raised
            # The webhook URL is itself a secret (Slack's carries the token): never log it.
            log.warning("headwater alert: webhook failed: %s", _one_line(exc, secrets=[url]))
    if env.get(EMAIL_TO_ENV) and env.get(SMTP_HOST_ENV):
        try:
            send_email(alert, env)
            sent.append("email")
        except Exception as exc:  # reported, not raised
            secrets = [v for k, v in env.items() if k == "HEADWATER_SMTP_PASSWORD" and v]
            log.warning("headwater alert: email failed: %s", _one_line(exc, secrets=secrets))
    return sent


def post_webhook(url: str, alert: Alert) -> None:
    body = json.dumps({"text": alert.text()}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook answered HTTP {response.status}")


def send_email(alert: Alert, env: Mapping[str, str] = os.environ) -> None:
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = env.get("HEADWATER_SMTP_FROM") or "headwater@localhost"
    message["To"] = env[EMAIL_TO_ENV]
    message.set_content(alert.text())
    host = env[SMTP_HOST_ENV]
    port = int(env.get("HEADWATER_SMTP_PORT") or 587)
    starttls = env.get("HEADWATER_SMTP_STARTTLS", "true").lower() not in ("0", "false", "no")
    with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
        if starttls:
            smtp.starttls()
        if user := env.get("HEADWATER_SMTP_USER"):
            smtp.login(user, env.get("HEADWATER_SMTP_PASSWORD", ""))
        smtp.send_message(message)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _log_url(ti: Any) -> str | None:
    try:
        return getattr(ti, "log_url", None)
    except Exception:  # the URL needs configuration some contexts lack
        return None


def _one_line(exc: Any, secrets: list[str] | None = None) -> str:
    if exc is None:
        return "no exception recorded (see the task log)"
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0] if isinstance(exc, str) else f"{type(exc).__name__}: {text}"
    first = first.splitlines()[0]
    for secret in secrets or []:
        first = first.replace(secret, "***")
    first = redact(first)
    return first if len(first) <= 500 else first[:497] + "..."
