"""The "Báo cáo tháng" page: commune users get their commune's report, province users any;
the letterhead edited there is the one the PDF is issued under."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import World
from tests.console.conftest import csrf_of


def test_commune_user_downloads_own_report_only(
    console: Callable[..., httpx.Client], world: World
) -> None:
    c = console("op_a")
    html = c.get("/console/reports").text
    assert "Xã Tịnh Sơn" in html and "Xã Tịnh Hà" not in html
    r = c.get("/console/reports/download", params={"commune": "21025", "format": "pdf"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert r.headers["content-type"] == "application/pdf"
    r = c.get("/console/reports/download", params={"commune": "21025", "format": "xlsx"})
    assert r.status_code == 200 and r.content.startswith(b"PK")
    r = c.get("/console/reports/download", params={"commune": "21026", "format": "pdf"})
    assert r.status_code == 404
    r = c.get("/console/reports/download", params={"commune": "21025", "month": "2999-01"})
    assert r.status_code == 422
    admin = console("admin")
    assert "Xã Tịnh Hà" in admin.get("/console/reports").text
    r = admin.get("/console/reports/download", params={"commune": "21026", "format": "xlsx"})
    assert r.status_code == 200


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils (pdftotext)")
def test_letterhead_is_edited_per_commune(
    console: Callable[..., httpx.Client], world: World, tmp_path: Path
) -> None:
    c = console("op_a")
    token = csrf_of(c.get("/console/reports").text)
    form = {
        "csrf": token,
        "commune": "21025",
        "issuing_body": "ỦY BAN NHÂN DÂN\nXÃ TỊNH SƠN",
        "symbol": "BC-UBND",
        "place": "Tịnh Sơn",
        "signer_title": "Chủ tịch",
        "signer_name": "Trần Thị Bình",
        "recipients": "UBND tỉnh Quảng Ngãi (b/c)\nLưu: VT",
    }
    r = c.post("/console/reports/letterhead", data=form)
    assert r.status_code == 303
    assert "Trần Thị Bình" in c.get("/console/reports", params={"commune": "21025"}).text
    assert c.post("/console/reports/letterhead", data={**form, "place": ""}).status_code == 422
    other = {**form, "commune": "21026"}
    assert c.post("/console/reports/letterhead", data=other).status_code == 404
    r = c.get(
        "/console/reports/download", params={"commune": "21025", "format": "pdf", "number": "17"}
    )
    (tmp_path / "r.pdf").write_bytes(r.content)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "Trần Thị Bình" in text and "Số: 17/BC-UBND" in text and "CHỦ TỊCH" in text
