"""Every shell example of README.md and docs/vi/README.md, run as written against `ioc demo`.

Only what a test cannot do is left out, each with its reason (``NOT_HERE``): installing the
product (this suite runs inside it), Docker, signalling the machine's own broker, and running
the test suite from inside the test suite. The rest runs in a scratch directory with the
values the demo printed substituted where the docs say so (the token, the API port, the port of
the demo's broker) and must succeed; API answers must be JSON without an error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.demo.test_demo import DemoProcess
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "vi" / "README.md"]
BLOCK = re.compile(r"^```([a-z]*)\n(.*?)^```", re.M | re.S)
NOT_HERE = {
    "python3 -m venv": "installs the product; this suite runs inside an installed checkout",
    ". .venv/bin/activate": "the development block runs the test suite and linters themselves",
    "python -m pytest": "the test suite cannot run itself",
    "ruff check": "linters run in .ci/run",
    ".ci/run": "CI runs this very suite",
    "python docs/gen_config.py": "tests/test_docs.py checks the generated reference",
    "cp .env.example": "the compose deployment needs Docker (tests/deploy checks the files)",
    "docker compose": "needs Docker (tests/deploy checks the compose files)",
    "kill -HUP": "would signal the machine's own Mosquitto",
    "IOC_SECRET_SNMP_COMMUNITY=public ioc collector run": "runs until stopped (tests/collector run it)",
}
TYPED = "Mat-khau-thu-2026!\n" * 2
# Files the docs ask the reader to write from the block shown just before.
WRITTEN = {"new_cameras.csv": "csv", "xa_cua_toi.yaml": "yaml", "edge.yaml": "yaml"}


@dataclass
class Example:
    """One command of a shell block (continuation lines joined), with where it is."""

    where: str
    command: str
    block_skipped: str | None = None  # the block's first command is not for here: all of it

    @property
    def skipped(self) -> str | None:
        return self.block_skipped or _not_here(self.command)


def _not_here(command: str) -> str | None:
    return next((why for start, why in NOT_HERE.items() if command.startswith(start)), None)


def examples(path: Path) -> tuple[list[Example], dict[str, str]]:
    """Shell commands of a document, and the text of files it asks the reader to write."""
    text = path.read_text(encoding="utf-8")
    found: list[Example] = []
    files: dict[str, str] = {}
    last: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        lang, body = match.group(1), match.group(2)
        line = text[: match.start()].count("\n") + 2
        if lang not in ("sh", "bash"):
            last[lang] = body
            continue
        joined = re.sub(r"\\\n\s*", "", body)
        commands = [c.strip() for c in joined.splitlines()]
        block = next((_not_here(c) for c in commands if c and not c.startswith("#")), None)
        for offset, command in enumerate(commands):
            if command and not command.startswith("#"):
                where = f"{path.relative_to(ROOT)}:{line + offset}"
                found.append(Example(where, command, block))
                for name, kind in WRITTEN.items():
                    if name in command and kind in last:
                        files[name] = last[kind]
    return found, files


def test_every_shell_example_is_run_or_says_why_not() -> None:
    """A new example is run by the slow test below unless it is listed with a reason."""
    total = 0
    for path in DOCS:
        found, files = examples(path)
        total += len([e for e in found if e.skipped is None])
        for name in WRITTEN:
            if any(name in e.command for e in found):
                assert name in files, f"{path.name}: no {WRITTEN[name]} block before {name}"
    assert total >= 20


def _prepare(cwd: Path, token: str, api_port: int, broker_port: int, command: str) -> str:
    command = command.replace("TOKEN=ioc_...", f"TOKEN={token}")
    command = command.replace("127.0.0.1:8000", f"127.0.0.1:{api_port}")
    # "on the embedded broker add -p PORT with the port it printed": the demo's broker here.
    return command.replace(
        "mosquitto_pub -h 127.0.0.1", f"mosquitto_pub -h 127.0.0.1 -p {broker_port}"
    )


def _check_output(example: Example, out: str) -> None:
    if example.command.startswith("psql"):
        assert "fps" in out, f"{example.where}: no reading of ts-cam-01 in\n{out}"
    if example.command.startswith("curl"):
        body = json.loads(out)
        assert not (isinstance(body, dict) and "detail" in body), f"{example.where}: {out[:300]}"


@pytest.mark.slow
def test_shell_examples_run_against_the_demo(
    own_broker: Mosquitto, empty_db_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_DATABASE_URL": empty_db_url, "IOC_MQTT_URL": own_broker.url})
    demo = DemoProcess(env)
    try:
        token = wait_until(demo.token, timeout=120, interval=0.5, message="the demo banner")
        api = httpx.Client(base_url=f"http://127.0.0.1:{demo.port}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
        wait_until(lambda: api.get("/api/v1/devices/ts-cam-01/state").json().get("latest"),
                   90, interval=1, message="demo devices reporting")  # fmt: skip
        cwd = tmp_path / "work"
        (cwd / "devices" / "data").mkdir(parents=True)
        (cwd / "mosquitto").mkdir()
        shutil.copy(ROOT / "devices" / "data" / "demo_commune.yaml", cwd / "devices" / "data")
        shell_env = {**env, "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"}
        shell_env.pop("IOC_DATABASE_URL")  # the psql example must work without it set
        shell_env["IOC_MQTT_URL"] = own_broker.url
        ran = 0
        for path in DOCS:
            found, files = examples(path)
            for name, content in files.items():
                (cwd / name).write_text(content, encoding="utf-8")
            for example in found:
                if example.skipped:
                    continue
                command = _prepare(cwd, token, demo.port, own_broker.port, example.command)
                run_env = dict(shell_env)
                if not command.startswith("psql"):
                    run_env["IOC_DATABASE_URL"] = empty_db_url  # ioc commands: the demo's DB
                else:  # the documented default names the server's `ioc` database
                    command = command.replace("postgresql://postgres@localhost:5432/ioc",
                                              empty_db_url)  # fmt: skip
                # A command that asks (`ioc users passwd`) gets what a user would type.
                done = subprocess.run(["bash", "-c", f"TOKEN={token}\n{command}"], cwd=cwd,
                                      env=run_env, capture_output=True, text=True,
                                      input=TYPED, timeout=60)  # fmt: skip
                assert done.returncode == 0, (
                    f"{example.where}: `{example.command}` failed:\n{done.stdout}{done.stderr}"
                )
                _check_output(example, done.stdout)
                ran += 1
        assert ran >= 20
        api.close()
    finally:
        code = demo.stop()
    assert code == 0, demo.output()[-3000:]
