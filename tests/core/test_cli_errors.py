"""Every package's errors sit under IocError and the ``ioc`` command reports them in one place."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.security import UserError
from devices.credentials import CredentialError
from devices.registry import RegistryError
from ioc.cli import cli
from ioc.errors import IocError
from ioc.ops.actions import ActionRefused
from simulators.scenario import ScenarioError


@pytest.mark.parametrize(
    "error", [RegistryError, CredentialError, UserError, ScenarioError, ActionRefused]
)
def test_package_errors_are_ioc_errors(error: type[Exception]) -> None:
    assert issubclass(error, IocError)


def test_an_ioc_error_is_one_error_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfaults:\n  - {at: 1m, fault: meteor, target: ts-uplink}\n")
    result = CliRunner().invoke(cli, ["drill", str(bad), "--check-only"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {bad}:3: faults[0].fault: unknown fault 'meteor'")
    assert "Traceback" not in result.output
