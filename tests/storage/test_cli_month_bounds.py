"""Issue 19 item 12 on the command line: a month at the ends of time is one line, not a trace."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from storage.cli import report


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "9000-01"])
def test_report_month_out_of_range_is_a_usage_error(month: str) -> None:
    result = CliRunner().invoke(
        report,
        ["availability", "--commune", "21025", "--month", month],
        env={"IOC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 2, result.output
    assert "the month must be between" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
