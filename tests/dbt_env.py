"""dbt in the test process: the manifest parsed once per copy of the models, then reused.

A dbt subprocess spends most of a small build importing dbt and re-reading the project;
the domain suites run many builds, so they run dbt here (dbtRunner) instead. Each copy of
the models is a schema suffix (`HEADWATER_DBT_SCHEMA_SUFFIX`: `marts_t_inc`, `marts_t_full`
…) with its own target path. `headwater.dbt.run` itself, the subprocess the CLI and the
DAGs use, is exercised by tests of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from headwater import config, dbt


@contextlib.contextmanager
def environ(values: dict[str, str]):
    """Set environment variables for the block, then restore what was there."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class InProcessDbt:
    """`invoke(args, suffix)` runs dbt on the local target against `warehouse_url`."""

    def __init__(self, warehouse_url: str, artifacts: Path, dbt_vars: dict):
        self.warehouse_url = warehouse_url
        self.artifacts = artifacts
        self.vars = dbt_vars
        self._manifests: dict[str, object] = {}

    def invoke(self, args: list[str], suffix: str) -> dbt.DbtResult:
        """Run dbt; assert it succeeded (the failing nodes in the message); its results."""
        from dbt.cli.main import dbtRunner

        target = self.artifacts / suffix.strip("_")
        common = [
            "--project-dir",
            str(dbt.PROJECT_DIR),
            "--profiles-dir",
            str(dbt.PROJECT_DIR),
            "--target",
            "local",
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
            "--vars",
            json.dumps(self.vars),
        ]
        env = {
            **config.TELEMETRY_OFF,
            **dbt.profile_env("local", self.warehouse_url),
            "HEADWATER_DBT_SCHEMA_SUFFIX": suffix,
        }
        with environ(env):
            if suffix not in self._manifests:
                parsed = dbtRunner().invoke(["parse", "--quiet", *common])
                assert parsed.success, parsed.exception
                self._manifests[suffix] = parsed.result
            done = dbtRunner(manifest=self._manifests[suffix]).invoke(
                [*args, "--quiet", "--no-use-colors", *common]
            )
        results = [
            {
                "unique_id": node.node.unique_id,
                "status": str(node.status),
                "message": node.message,
                "adapter_response": node.adapter_response,
            }
            for node in getattr(done.result, "results", None) or []
        ]
        result = dbt.DbtResult(args=args, returncode=0 if done.success else 1, results=results)
        assert done.success, dbt.failure_message(result, "local") + f" {done.exception or ''}"
        return result


def emulator_build(artifacts: Path, *args: str) -> dbt.DbtResult:
    """`dbt <args>` on the BigQuery emulator target, as the CLI runs it (a subprocess)."""
    return dbt.run(
        [*args, "--no-use-colors"],
        target="bigquery_emulator",
        capture=True,
        env={"HEADWATER_DBT_THREADS": "2"},
        target_path=artifacts / "bigquery",
        timeout=900,
    )
