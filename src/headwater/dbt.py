"""Run the dbt project (`dbt_project/`) against a target, with its profile filled in.

`dbt_project/profiles.yml` holds no addresses or secrets: every value comes from the
environment. This module builds that environment (from the warehouse URL for the
PostgreSQL targets, from the running emulator for `bigquery_emulator`), runs dbt in a
subprocess with telemetry off, and turns a failure into one line that names the failing
nodes, read from `target/run_results.json`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from headwater import config
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

PROJECT_DIR = config.project_dir() / "dbt_project"
TARGETS = ("local", "postgres", "bigquery", "bigquery_emulator")
# How many failing nodes the error message names before it says "and N more".
_NAMED_FAILURES = 3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class DbtResult:
    """What a dbt invocation did: its command, exit code, output (when captured) and results."""

    args: list[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def statuses(self) -> dict[str, int]:
        """How many nodes ended in each status (success, pass, error, fail, warn, skipped)."""
        counts: dict[str, int] = {}
        for result in self.results:
            status = str(result.get("status"))
            counts[status] = counts.get(status, 0) + 1
        return counts


def profile_env(target: str = "local", warehouse_url: str | None = None) -> dict[str, str]:
    """The environment variables `profiles.yml` reads for `target`.

    PostgreSQL targets get HEADWATER_DBT_HOST/PORT/USER/PASSWORD/DBNAME from the warehouse
    URL, including the `?host=/socket/dir&port=5432` form the embedded server uses. For
    `local` the URL defaults to `config.warehouse_url()` (the embedded server unless
    HEADWATER_WAREHOUSE_URL says otherwise); `postgres` takes `warehouse_url`, else
    HEADWATER_WAREHOUSE_URL, else HEADWATER_DBT_* as the environment already has them.
    `bigquery_emulator` gets the endpoint and project of the emulator headwater runs (or
    keeps HEADWATER_BQ_API_ENDPOINT when none runs and it is set: an emulator elsewhere).
    `bigquery` reads HEADWATER_BQ_* from the environment as it is.
    """
    _check_target(target)
    env = {"HEADWATER_DBT_TARGET": target}
    if target == "local":
        env.update(postgres_env(warehouse_url or config.warehouse_url()))
    elif target == "postgres":
        url = warehouse_url or os.environ.get("HEADWATER_WAREHOUSE_URL")
        if url:
            env.update(postgres_env(url))
        elif not os.environ.get("HEADWATER_DBT_HOST"):
            raise ConfigError(
                "target postgres needs HEADWATER_WAREHOUSE_URL (or HEADWATER_DBT_HOST, "
                "HEADWATER_DBT_PORT, HEADWATER_DBT_USER, HEADWATER_DBT_PASSWORD, HEADWATER_DBT_DBNAME)"
            )
    elif target == "bigquery_emulator":
        from headwater import bigquery

        if bigquery.emulator_status().running or not os.environ.get("HEADWATER_BQ_API_ENDPOINT"):
            env.update(bigquery.emulator_env())  # raises when no emulator runs
    return env


def postgres_env(url: str) -> dict[str, str]:
    """HEADWATER_DBT_* variables from a PostgreSQL URL (postgresql://user:pw@host:port/db)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"the warehouse URL must be a postgresql:// URL, not {parts.scheme}://")
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", [""])[0]
    port = parts.port or query.get("port", [""])[0] or 5432
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname", [""])[0]
    if not host:
        raise ConfigError("the warehouse URL names no host (or ?host=/socket/dir)")
    if not dbname:
        raise ConfigError("the warehouse URL names no database")
    user = unquote(parts.username) if parts.username else query.get("user", ["postgres"])[0]
    password = unquote(parts.password) if parts.password else query.get("password", [""])[0]
    return {
        "HEADWATER_DBT_HOST": unquote(host),
        "HEADWATER_DBT_PORT": str(port),
        "HEADWATER_DBT_USER": user,
        "HEADWATER_DBT_PASSWORD": password,
        "HEADWATER_DBT_DBNAME": dbname,
        # Dates and months are computed in UTC by the models whatever the session says;
        # this keeps anything else dbt prints in UTC too.
        "PGTZ": "UTC",
    }


def dbt_executable() -> Path:
    """The dbt of this environment: next to the running interpreter."""
    path = Path(sys.executable).parent / "dbt"
    if not path.is_file():
        raise HeadwaterError(
            f"dbt is not installed next to {sys.executable}; "
            "install the stack extra (pip install 'headwater[stack]')"
        )
    return path


def invocation(
    args: list[str],
    *,
    target: str = "local",
    vars: dict[str, Any] | None = None,
    warehouse_url: str | None = None,
    env: dict[str, str] | None = None,
    target_path: Path | str | None = None,
) -> tuple[list[str], dict[str, str], Path]:
    """The dbt command line, its environment and its artifacts directory, for `run` and for
    callers that manage the process themselves."""
    if not args:
        raise HeadwaterError("no dbt command given (e.g. build, run, test)")
    command = [
        str(dbt_executable()),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target",
        target,
    ]
    if vars:
        command += ["--vars", json.dumps(vars, default=str, sort_keys=True)]
    artifacts = Path(target_path).resolve() if target_path else PROJECT_DIR / "target"
    if target_path:
        command += ["--target-path", str(artifacts), "--log-path", str(artifacts / "logs")]
    full_env = {
        **os.environ,
        **config.TELEMETRY_OFF,
        **profile_env(target, warehouse_url),
        **(env or {}),
    }
    return command, full_env, artifacts


def run(
    args: list[str],
    *,
    target: str = "local",
    vars: dict[str, Any] | None = None,
    warehouse_url: str | None = None,
    capture: bool = False,
    env: dict[str, str] | None = None,
    target_path: Path | str | None = None,
    timeout: float | None = None,
) -> DbtResult:
    """Run `dbt <args>` on the project against `target`; raise HeadwaterError on failure.

    `vars` become `--vars` (JSON). With `capture` the output is returned instead of being
    printed. `env` adds variables (e.g. HEADWATER_DBT_SCHEMA_SUFFIX) on top of the
    profile's. `target_path` moves dbt's artifacts and logs out of dbt_project/target, so
    two copies of the project (another schema suffix, another target) keep their own
    partial-parse state. The error names the failing nodes, one line.
    """
    command, full_env, artifacts = invocation(
        args,
        target=target,
        vars=vars,
        warehouse_url=warehouse_url,
        env=env,
        target_path=target_path,
    )
    run_results = artifacts / "run_results.json"
    before = run_results.stat().st_mtime_ns if run_results.exists() else None
    log.info("dbt %s (target %s)", " ".join(args), target)
    try:
        proc = subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env=full_env,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HeadwaterError(f"dbt {args[0]} did not finish within {timeout:g} s") from None
    results, elapsed = _read_results(run_results, before)
    result = DbtResult(
        args=list(args),
        returncode=proc.returncode,
        stdout=proc.stdout or "",
        stderr=proc.stderr or "",
        results=results,
        elapsed=elapsed,
    )
    if not result.ok:
        raise HeadwaterError(failure_message(result, target))
    return result


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ConfigError(f"unknown dbt target {target!r} (targets: {', '.join(TARGETS)})")


def _read_results(path: Path, before: int | None) -> tuple[list[dict[str, Any]], float | None]:
    """The results of THIS invocation: ignored when dbt did not rewrite the file."""
    try:
        if before is not None and path.stat().st_mtime_ns == before:
            return [], None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return [], None
    return list(data.get("results") or []), data.get("elapsed_time")


def failure_message(result: DbtResult, target: str) -> str:
    """One line: which nodes failed and why, or the last error line dbt printed."""
    failed = [r for r in result.results if r.get("status") in ("error", "fail", "runtime error")]
    what = f"dbt {result.args[0]} failed on target {target}"
    if failed:
        names = [_describe(r) for r in failed[:_NAMED_FAILURES]]
        more = len(failed) - len(names)
        tail = f" and {more} more" if more > 0 else ""
        return f"{what}: {'; '.join(names)}{tail}"
    reason = _last_error_line(result.stdout + "\n" + result.stderr)
    return f"{what} (exit code {result.returncode})" + (f": {reason}" if reason else "")


def _describe(result: dict[str, Any]) -> str:
    # model.<project>.<name>, test.<project>.<name>.<hash>, unit_test.<project>.<model>.<name>
    parts = str(result.get("unique_id") or "?").split(".")
    if parts[0] == "unit_test" and len(parts) >= 4:
        kind, name = "unit test", f"{parts[3]} of {parts[2]}"
    elif len(parts) >= 3:
        kind, name = parts[0], parts[2]
    else:
        kind, name = "node", ".".join(parts)
    message = " ".join(_ANSI.sub("", str(result.get("message") or result.get("status"))).split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{kind} {name} ({message})"


def _last_error_line(output: str) -> str:
    """dbt's own summary of an error that is not a node's (parsing, compilation, profile)."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for i, line in enumerate(lines):
        if line.endswith("Encountered an error:"):
            detail = [text for text in lines[i + 1 : i + 4] if not text.startswith("---")]
            return ": ".join(detail)[:300]
    for line in reversed(lines):
        if "error" in line.lower():
            return line[:300]
    return lines[-1][:300] if lines else ""
