"""A malformed IOC_* setting ends in one line naming it, what is wrong and a valid example."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = [
    ({"IOC_DATABASE_URL": "localhost:5432/ioc"}, ["migrate"], "IOC_DATABASE_URL", "postgresql://"),
    ({"IOC_DATABASE_URL": "postgres//x"}, ["api"], "IOC_DATABASE_URL", "postgresql://"),
    ({"IOC_MQTT_URL": "localhost:1883"}, ["ingest"], "IOC_MQTT_URL", "mqtt://localhost:1883"),
    ({"IOC_MQTT_URL": "mqtt://broker:abc"}, ["ingest"], "IOC_MQTT_URL", "mqtt://localhost:1883"),
    ({"IOC_API_PORT": "abc"}, ["api"], "IOC_API_PORT", "integer"),
    ({"IOC_INGEST_BATCH_SIZE": "x"}, ["ingest"], "IOC_INGEST_BATCH_SIZE", "integer"),
    ({"IOC_ALERTS_EVALUATION_INTERVAL_S": "-1"}, ["alerts"], "IOC_ALERTS_EVALUATION", "greater"),
]


@pytest.mark.parametrize(("env", "args", "name", "hint"), CASES, ids=lambda v: str(v)[:40])
def test_bad_setting_is_one_line(
    env: dict[str, str], args: list[str], name: str, hint: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    done = subprocess.run(
        [sys.executable, "-m", "ioc", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: invalid setting {name}"), lines[0]
    assert hint in lines[0]
    assert "Traceback" not in done.stderr
