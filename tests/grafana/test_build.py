"""The committed dashboards match the generator, and are shaped the way Grafana needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from grafana import build
from grafana.runner import load_dashboards, panel_queries

GRAFANA = Path(build.__file__).resolve().parent
BOARDS = load_dashboards()
VIETNAMESE = re.compile(r"[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]")


def test_committed_json_is_up_to_date() -> None:
    assert build.stale() == [], "run `python -m grafana.build` and commit grafana/dashboards"


def test_stale_detects_a_changed_file(tmp_path: Path) -> None:
    for name, text in build.render().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert build.stale(tmp_path) == []
    first = sorted(tmp_path.glob("*.json"))[0]
    first.write_text(first.read_text(encoding="utf-8").replace('"title"', '"Title"', 1))
    (tmp_path / "extra.json").write_text("{}", encoding="utf-8")
    assert build.stale(tmp_path) == sorted([first.name, "extra.json"])


def test_six_dashboards_titled_in_vietnamese_with_registry_variables() -> None:
    assert {b["uid"] for b in BOARDS} == {
        "ioc-overview", "ioc-cameras", "ioc-speakers", "ioc-links", "ioc-alerts", "ioc-health"
    }  # fmt: skip
    for board in BOARDS:
        assert VIETNAMESE.search(board["title"].lower()), board["title"]
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert set(variables) == {"commune", "site", "type"}
        for v in variables.values():
            assert v["type"] == "query" and v["multi"] and v["includeAll"], v["name"]
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert VIETNAMESE.search(panel["title"].lower()) or panel["title"] in (
                "Camera", "RSRP", "SINR", "Ingest", "MTTA / MTTR theo ngày"
            ), panel["title"]  # fmt: skip
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24


def test_panels_use_the_provisioned_datasource_and_time_macros() -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/ioc.yaml").read_text())
    ds = source["datasources"][0]
    assert ds["user"] == "ioc_grafana" and ds["jsonData"]["timescaledb"] is True
    assert ds["secureJsonData"]["password"] == "${IOC_GRAFANA_DB_PASSWORD}"
    for board in BOARDS:
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == ds["uid"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == ds["uid"]
        for query in panel_queries(board):
            if query.fmt == "time_series":
                assert "$__timeFilter(" in query.sql or "$__timeFrom()" in query.sql, query.name
            # Grafana's macro regex stops at the first ')': arguments must not nest calls.
            for args in re.findall(r"\$__\w+\(([^)]*)\)", query.sql):
                assert "(" not in args, f"{query.name}: nested call in macro arguments"


def test_time_series_over_telemetry_pick_a_resolution_by_range() -> None:
    for board in BOARDS:
        for query in panel_queries(board):
            if re.search(r"FROM telemetry(_points)? ", query.sql) and query.fmt == "time_series":
                assert "telemetry_5m" in query.sql and "telemetry_1h" in query.sql, query.name


def test_dashboard_provider_points_at_the_mounted_json() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/ioc.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards/ioc"


def test_the_datasource_uid_the_panels_use_is_documented() -> None:
    """Grafana without compose: the README and docs say which uid the data source needs."""
    import json

    root = Path(__file__).resolve().parents[2]
    uids = set()
    for path in (root / "grafana" / "dashboards").glob("*.json"):
        uids |= set(re.findall(r'"uid": "(ioc-[a-z-]+)"', path.read_text(encoding="utf-8")))
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            if "datasource" in panel:
                assert panel["datasource"]["uid"] == "ioc-postgres", (path.name, panel["title"])
    assert "ioc-postgres" in uids
    provisioned = (root / "grafana" / "provisioning" / "datasources" / "ioc.yaml").read_text()
    assert "uid: ioc-postgres" in provisioned
    readme = (root / "README.md").read_text(encoding="utf-8")
    grafana = readme[readme.index("### Grafana") :]
    assert "`ioc-postgres`" in grafana
    assert "`ioc-postgres`" in (root / "docs" / "grafana.md").read_text(encoding="utf-8")
