"""app.py's handling of a failure no rule foresaw: one line and exit code 2, or the traceback with RETAIL_DB_DEBUG=1.

The failure itself is shown end to end in tests/integration/test_deploy_time_rules.py; here the CDK is kept out.
"""

from __future__ import annotations

from typing import Any

import pytest

import app
from retail_db.building import BuildError


def _fail(*_: Any) -> None:
    raise BuildError("the monitoring (MonitoringStack)", "[dev.monitoring]", RuntimeError("first line\nsecond line"))


def test_a_build_failure_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("RETAIL_DB_DEBUG", raising=False)
    monkeypatch.setattr(app, "synthesize", _fail)
    assert app.main() == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "retail-db: building the monitoring (MonitoringStack) failed: first line second line "
        "(check [dev.monitoring] in profiles.toml; RETAIL_DB_DEBUG=1 shows the traceback)"
    )


def test_retail_db_debug_lets_the_traceback_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIL_DB_DEBUG", "1")
    monkeypatch.setattr(app, "synthesize", _fail)
    with pytest.raises(BuildError):
        app.main()
