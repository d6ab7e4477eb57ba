"""Quality gates: the Soda contracts of one domain and layer, verified against the warehouse.

A gate stands between two steps of the pipeline: the raw gate between sync and dbt, the marts
gate between dbt and publishing to `analytics`. A failing gate stops what comes after it, so
analysts keep the last good marts (see `headwater.publish`).

Contracts live in `soda/<domain>/<layer>/<table>.yml`. Their `dataset:` line needs the data
source name and the database, which differ between installs, so the files say
`${var.datasource}/${var.database}/<schema>/<table>` and declare both as Soda variables with the
embedded setup's values as defaults. `run_gate` fills them in from the actual warehouse URL.
The files stay valid for the stock CLI: `soda contract verify -c <file> -ds <ds.yml> --set
database=<name>`.

Verification runs in this process through Soda's Python API, all contracts of the gate in one
session over one connection: importing Soda costs several seconds, a contract a fraction of one.
The data source configuration, password included, is built in memory and handed to Soda as a
string; nothing with a secret is written to disk or printed.

Soda Core 4 sends anonymous telemetry spans to collect.soda.io unless
`SODA_CORE_TELEMETRY_ENABLED=false`; only package registries are reachable here, so the
exporter's retries would stall every run. Importing this module sets it (unless the
environment already says otherwise), before anything imports Soda.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

LAYERS = ("raw", "marts")
DATASOURCE_NAME = "headwater"
# Soda Core 4's own switch (soda_core.common.env_config_helper); the variable is read when
# soda_core.contracts.api is first imported, so it must be set before that import.
SODA_TELEMETRY_ENV = {"SODA_CORE_TELEMETRY_ENABLED": "false"}


def disable_soda_telemetry() -> None:
    """Set Soda's telemetry switch unless the environment already has one."""
    for key, value in SODA_TELEMETRY_ENV.items():
        os.environ.setdefault(key, value)


# Importing this module is enough: soda_core may be imported by anything that follows.
disable_soda_telemetry()

PASSED, WARNED, FAILED, NOT_EVALUATED, EXCLUDED, ERROR = (
    "passed",
    "warned",
    "failed",
    "not_evaluated",
    "excluded",
    "error",
)
# Soda's CheckOutcome names → ours. Anything else counts as a failure.
_OUTCOMES = {
    "PASSED": PASSED,
    "WARN": WARNED,
    "FAILED": FAILED,
    "NOT_EVALUATED": NOT_EVALUATED,
    "EXCLUDED": EXCLUDED,
}
# Outcomes that let data through. A warning is a threshold the contract set at `level: warn`.
_OK = (PASSED, WARNED, EXCLUDED)


class GateFailed(HeadwaterError):
    """A gate found a breach: what comes after it must not run."""

    def __init__(self, result: GateResult):
        self.result = result
        super().__init__(result.summary())


class GateCheck(NamedTuple):
    """One check's outcome: `contract` is the dataset (`schema.table`) the check ran on."""

    contract: str
    check: str
    outcome: str
    diagnostic: str


@dataclass
class GateResult:
    domain: str
    layer: str
    passed: bool
    checks: list[GateCheck] = field(default_factory=list)
    failures: list[GateCheck] = field(default_factory=list)
    contracts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: the verdict and, on failure, each failing check with its measurement."""
        name = f"{self.domain} {self.layer} gate"
        if self.passed:
            return f"{name} passed: {len(self.checks)} checks on {len(self.contracts)} tables"
        shown: list[str] = []
        errored = {f.contract for f in self.failures if f.outcome == ERROR}
        for f in self.failures:
            # An unreadable table makes every one of its checks "not evaluated"; its error says it all.
            if f.outcome == NOT_EVALUATED and f.contract in errored:
                continue
            detail = f" ({f.diagnostic})" if f.diagnostic else ""
            label = f.outcome.replace("_", " ")
            shown.append(f"{f.contract}: {f.check} {label}{detail}")
        return f"{name} failed: {len(shown)} of {len(self.checks)} checks: " + "; ".join(shown)

    def as_dict(self) -> dict:
        payload = asdict(self)
        payload["checks"] = [c._asdict() for c in self.checks]
        payload["failures"] = [c._asdict() for c in self.failures]
        payload["seconds"] = round(self.seconds, 3)
        return payload


# --- contracts -------------------------------------------------------------------------------


def soda_dir() -> Path:
    return config.project_dir() / "soda"


def contract_paths(domain: str, layer: str) -> list[Path]:
    """Every contract of a domain's layer, in name order."""
    if layer not in LAYERS:
        raise ConfigError(f"unknown layer {layer!r}: expected one of {', '.join(LAYERS)}")
    folder = soda_dir() / domain / layer
    paths = sorted(folder.glob("*.yml")) if folder.is_dir() else []
    if not paths:
        raise ConfigError(f"no Soda contracts for {domain} {layer} in {folder}")
    return paths


@dataclass(frozen=True)
class Warehouse:
    """Where the contracts run: what Soda needs to reach the warehouse, password included."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str = ""
    ssl: dict[str, str] = field(default_factory=dict)

    def variables(self) -> dict[str, str]:
        """Values for the contracts' placeholders."""
        return {"datasource": DATASOURCE_NAME, "database": self.database}

    def datasource_yaml(self) -> str:
        """The Soda data source configuration. Holds the password: keep it in memory."""
        connection: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }
        connection.update(self.ssl)
        return yaml.safe_dump(
            {"type": "postgres", "name": DATASOURCE_NAME, "connection": connection},
            sort_keys=False,
        )


# Connection settings Soda's PostgreSQL data source accepts besides the address.
_SSL_PARAMETERS = ("sslmode", "sslcert", "sslkey", "sslrootcert")


def resolve_warehouse(url: str) -> Warehouse:
    """Connect once, and take host, port, user and database from what libpq actually used.

    libpq fills in what the URL leaves out (PGHOST, PGUSER, the default socket directory, a
    password from ~/.pgpass), so asking the live connection gives Soda exactly the same
    target. Connecting first also turns an unreachable warehouse into one clear error.
    """
    if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
        raise ConfigError(
            f"the gates run on PostgreSQL; cannot use warehouse {db.describe(url)} "
            "(BigQuery gates need a soda-bigquery data source)"
        )
    with db.connect(url, what="warehouse") as conn:
        info = conn.info
        params = info.get_parameters()
        return Warehouse(
            host=info.host,
            port=int(info.port),
            user=info.user,
            password=info.password or "",
            database=info.dbname,
            ssl={k: v for k, v in params.items() if k in _SSL_PARAMETERS},
        )


# --- running ---------------------------------------------------------------------------------


def _import_soda():
    disable_soda_telemetry()
    try:
        from soda_core.common.yaml import ContractYamlSource, DataSourceYamlSource
        from soda_core.contracts.contract_verification import ContractVerificationSession
    except ImportError as exc:
        raise HeadwaterError(
            f"Soda Core is not installed ({exc}); install headwater with the 'stack' extra"
        ) from None
    return ContractYamlSource, DataSourceYamlSource, ContractVerificationSession


class _NotSoda(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("soda")


@contextlib.contextmanager
def _quiet_soda():
    """Keep Soda's own log lines off the console: the gate reports each failure once.

    Soda reads a verification's errors back from records that reach the root logger, so its
    loggers keep their levels; only the console handlers get a filter, and only unless
    debug logging is on.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    quiet = _NotSoda()
    handlers = [h for h in logging.root.handlers if type(h).__module__.startswith("logging")]
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def run_gate(domain: str, layer: str, *, warehouse_url: str | None = None) -> GateResult:
    """Verify every contract of `domain`/`layer` and say which checks failed.

    Fails closed: a check Soda could not evaluate (a missing table, a query error) counts
    as a failure, so a broken gate never lets data through. Warnings do not fail the gate.
    """
    started = time.perf_counter()
    paths = contract_paths(domain, layer)
    url = warehouse_url or config.warehouse_url()
    warehouse = resolve_warehouse(url)
    ContractYamlSource, DataSourceYamlSource, Session = _import_soda()

    def verify(batch: list[Path]):
        return Session.execute(
            contract_yaml_sources=[
                ContractYamlSource.from_str(p.read_text(), file_path=str(p)) for p in batch
            ],
            data_source_yaml_sources=[DataSourceYamlSource.from_str(warehouse.datasource_yaml())],
            variables=warehouse.variables(),
        )

    checks: list[GateCheck] = []
    with _quiet_soda():
        try:
            sessions = [(paths, verify(paths))]
        except Exception as exc:  # a contract Soda cannot parse: find out which, keep the rest
            log.debug("one session failed (%s); verifying contracts one by one", exc)
            sessions = []
            for path in paths:
                try:
                    sessions.append(([path], verify([path])))
                except Exception as one_exc:
                    checks.append(
                        GateCheck(_label(path), "contract", ERROR, _clean(str(one_exc), warehouse))
                    )
    for batch, session in sessions:
        for path, result in itertools.zip_longest(batch, session.results):
            if result is None:  # never expected; fail closed rather than skip a contract
                checks.append(GateCheck(_label(path), "contract", ERROR, "Soda returned no result"))
            else:
                checks.extend(_checks_of(path, result, warehouse))

    failures = [c for c in checks if c.outcome not in _OK]
    result = GateResult(
        domain=domain,
        layer=layer,
        passed=not failures and bool(checks),
        checks=checks,
        failures=failures,
        contracts=[_label(p) for p in paths],
        seconds=time.perf_counter() - started,
    )
    log.info("%s (%.1f s)", result.summary(), result.seconds)
    return result


def check_gate(domain: str, layer: str, *, warehouse_url: str | None = None) -> GateResult:
    """Run the gate and raise `GateFailed` (one line naming the failing checks) on any failure."""
    result = run_gate(domain, layer, warehouse_url=warehouse_url)
    if not result.passed:
        raise GateFailed(result)
    return result


def _label(path: Path) -> str:
    """`schema.table` from a contract's dataset line, else the file name."""
    try:
        dataset = yaml.safe_load(path.read_text()).get("dataset", "")
        parts = dataset.split("/")
        if len(parts) >= 2:
            return f"{parts[-2]}.{parts[-1]}"
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    return path.stem


def _checks_of(path: Path, result, warehouse: Warehouse) -> list[GateCheck]:
    label = _label(path)
    checks = []
    for check_result in result.check_results:
        check = check_result.check
        name = check.name or check.type
        if check.column_name and check.column_name not in name:
            name = f"{check.column_name}: {name}"
        outcome = _OUTCOMES.get(check_result.outcome.name, check_result.outcome.name.lower())
        checks.append(GateCheck(label, name, outcome, _diagnostic(check_result)))
    if result.has_errors:
        errors = result.get_errors() or [f"Soda reported status {result.status.name}"]
        checks.append(GateCheck(label, "contract", ERROR, _clean(errors[0], warehouse)))
    return checks


def _diagnostic(check_result) -> str:
    """The measured value, then Soda's diagnostics without the row-tested counters."""
    parts = []
    if check_result.threshold_value is not None:
        parts.append(f"value={_fmt(check_result.threshold_value)}")
    for key, value in (check_result.diagnostic_metric_values or {}).items():
        if key.endswith("_rows_tested") or value is None or isinstance(value, dict | list):
            continue
        parts.append(f"{key}={_fmt(value)}")
    # A schema check says which columns: more use than a count.
    if missing := getattr(check_result, "expected_column_names_not_actual", None):
        parts.append("missing columns: " + " ".join(missing))
    for mismatch in getattr(check_result, "column_data_type_mismatches", None) or []:
        parts.append(f"{mismatch.column}: {mismatch.get_expected()} -> {mismatch.get_actual()}")
    return ", ".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return f"{value:.4g}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _clean(message: str, warehouse: Warehouse) -> str:
    """First line of an error, with no password in it."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), message)
    if warehouse.password:
        first = first.replace(warehouse.password, "***")
    return db.redact(first)[:300]
