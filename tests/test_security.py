"""Secrets stay out of the repository, the logs and the error messages.

* No literal credential is committed: every tracked file outside `tests/` is scanned for
  URLs with a password, password assignments with a literal value, private keys and the
  token formats of the services a data platform talks to. (`tests/` holds deliberately fake
  credentials, used to check that they are redacted; they point at closed ports.)
* Errors and logs never print a password: commands that fail while holding one (an
  unreachable warehouse for sync, gate, dbt and run; an unreachable source for ingest) print
  one line without it, and `redact` hides it in every connection-string form.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import config, db

ROOT = config.project_dir()
SECRET = "Hw-s3cret-Pa55"
PLACEHOLDERS = re.compile(r"^(\*+|\.\.\.|<[^>]*>|\$\{[^}]*\}|password|pw|pass|secret|x+)$", re.I)
URL_CREDENTIAL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"`]+:([^@\s/'\"`]+)@", re.I)
PASSWORD_LITERAL = re.compile(
    r"""\b(?:password|passwd|secret|token|api_key)\w*["']?\s*[:=]\s*["']([^"'\s]{4,})["']""", re.I
)
TOKENS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Google service account key": re.compile(r'"private_key_id"\s*:\s*"[0-9a-f]{40}"'),
}
# Values that look like assignments but are names of things, not secrets.
NOT_SECRETS = re.compile(r"^(?:[A-Z][A-Z0-9_]+|\{\{.*|env_var.*|headwater-local-emulator)$")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in listed if name]
    return [f for f in files if f.is_file() and not f.relative_to(ROOT).parts[0] == "tests"]


def findings(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # binary (a screenshot): not where credentials hide
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in URL_CREDENTIAL.finditer(line):
            if not PLACEHOLDERS.match(match.group(1)):
                found.append(f"{path.relative_to(ROOT)}:{number}: URL with a password")
        for match in PASSWORD_LITERAL.finditer(line):
            value = match.group(1)
            if not (PLACEHOLDERS.match(value) or NOT_SECRETS.match(value)):
                found.append(
                    f"{path.relative_to(ROOT)}:{number}: literal secret {match.group(0)!r}"
                )
        for name, pattern in TOKENS.items():
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {name}")
    return found


def test_no_literal_credentials_in_the_repository():
    files = tracked_files()
    assert len(files) > 50, "the scan sees the repository"
    problems = [problem for path in files for problem in findings(path)]
    assert problems == []


def test_the_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    planted = tmp_path / "settings.py"
    planted.write_text(
        'URL = "postgresql://etl:Tr0ub4dor@db.internal:5432/warehouse"\n'
        'password = "correct-horse"\n'
        "key = AKIA" + "ABCDEFGHIJKLMNOP\n"
        "-----BEGIN " + "PRIVATE KEY-----\n"
        'ok = "postgresql://etl:***@db/warehouse"  password: "{{ env_var(\'X\') }}"\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    problems = findings(planted)
    assert [p.split(": ", 1)[1].split(" ")[0] for p in problems] == [
        "URL",
        "literal",
        "AWS",
        "private",
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://etl:{SECRET}@db.internal:5432/warehouse",
        f"postgres://etl:{SECRET}@db/warehouse?sslmode=require",
        f"host=db.internal user=etl password={SECRET} dbname=warehouse",
        f"host=db user=etl password='{SECRET} with space' dbname=w",
        f"postgresql://etl@db/warehouse?password={SECRET}&sslmode=require",
        f"error: could not connect: FATAL for postgresql://etl:{SECRET}@h/db (password={SECRET})",
    ],
)
def test_redact_hides_the_password_in_every_form(text):
    redacted = db.redact(text)
    assert SECRET not in redacted
    assert "***" in redacted
    assert SECRET not in db.describe(text)


CLI = [sys.executable, "-m", "headwater.cli"]
CLOSED = f"postgresql://etl:{SECRET}@127.0.0.1:1/warehouse"


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "marketplace"],
        ["gate", "marketplace", "raw"],
        ["dbt", "debug"],
        ["run", "marketplace"],
        ["publish", "marketplace"],
    ],
    ids=lambda a: " ".join(a),
)
def test_failing_commands_never_print_the_password(args, tmp_path):
    env = {
        **os.environ,
        "HEADWATER_WAREHOUSE_URL": CLOSED,
        "HEADWATER_MARKETPLACE_URL": CLOSED.replace("warehouse", "marketplace"),
        "HEADWATER_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [*CLI, "-vv", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert SECRET not in output
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
