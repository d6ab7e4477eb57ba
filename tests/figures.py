"""What the reliability suites did, counted as they ran and printed at the end of the session.

Tests call `figures.add("sync kills survived", 1)`; the totals are printed after the test
summary and written to `<HEADWATER_HOME of the run>/../reliability-figures.json`
(`.headwater/reliability-figures.json` in the repository), which docs/reliability.md
quotes. Only what tests asserted is counted: a kill counts once its rerun converged.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from headwater import config

_TOTALS: Counter[str] = Counter()


class Figures:
    def add(self, name: str, value: int = 1) -> None:
        _TOTALS[name] += value


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not _TOTALS:
        return
    terminalreporter.section("reliability figures")
    for name, value in sorted(_TOTALS.items()):
        terminalreporter.write_line(f"{value:>10,}  {name}")
    path = _project_home() / "reliability-figures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "exit_status": int(exitstatus),
                "long": bool(config.getoption("--long")),
                "figures": dict(sorted(_TOTALS.items())),
            },
            indent=2,
        )
        + "\n"
    )
    terminalreporter.write_line(f"written {path}")


def _project_home():
    return config.project_dir() / ".headwater"
