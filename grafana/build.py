"""Generate the dashboard JSON files: ``python -m grafana.build [--check]``.

The JSON in ``grafana/dashboards/`` is committed (Grafana provisions it from there); a test
runs ``--check`` logic to prove it matches this generator.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafana.boards import alerts, cameras, health, links, overview, speakers

OUT = Path(__file__).resolve().parent / "dashboards"
BOARDS = (overview, cameras, speakers, links, alerts, health)


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    files: dict[str, str] = {}
    for module in BOARDS:
        board: dict[str, Any] = module.build()
        files[f"{board['uid']}.json"] = json.dumps(board, ensure_ascii=False, indent=2) + "\n"
    return files


def stale(out: Path = OUT) -> list[str]:
    """Names of dashboard files missing, different from the generator, or unexpected."""
    files = render()
    present = {p.name for p in out.glob("*.json")}
    changed = [
        name
        for name, text in files.items()
        if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
    ]
    return sorted(changed + sorted(present - set(files)))


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards, or with ``--check`` only report stale files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for name in bad:
            print(f"stale: grafana/dashboards/{name}", file=sys.stderr)
        return 1 if bad else 0
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote grafana/dashboards/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
