"""The monthly report a chairman signs: coverage in the headline, the Nghị định 30/2020 layout,
cameras available only while they deliver video, XLSX with numbers.

The PDF is read back with poppler's ``pdftotext``; its first two pages are rendered with
``pdftoppm`` into ``$IOC_TEST_ARTEFACTS/report`` (a temporary directory without it) for people to
look at.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from storage import daily, official, render
from storage.availability import monthly_report
from storage.letterhead import Letterhead, save_letterhead
from tests.storage.conftest import metric_id, write_points
from tests.storage.test_availability import (  # noqa: F401  (the fixture)
    DAY,
    SETTINGS,
    T0,
    _at,
    fixture_day,
)

POPPLER = pytest.mark.skipif(
    not shutil.which("pdftotext"),
    reason="needs poppler-utils (apt-get install poppler-utils; .ci/run installs it)",
)


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode()


@pytest.mark.usefixtures("fixture_day")
def test_camera_without_video_is_not_available(db: psycopg.Connection) -> None:
    # cam1 answers all day but its picture is gone from 06:00: fps 0, stream down.
    keys = dict(db.execute("SELECT id, key FROM devices").fetchall())
    fps, stream = metric_id(db, "fps"), metric_id(db, "stream_up")
    points = [(_at(t), 20.0, keys["cam1"], fps) for t in range(0, 21600, 60)]
    points += [(_at(t), 0.0, keys["cam1"], fps) for t in range(21600, 86400, 60)]
    points += [(_at(t), 0.0, keys["cam1"], stream) for t in range(21600, 86400, 300)]
    write_points(db, points)
    rows = {r["device_id"]: r for r in daily.compute_day(db, SETTINGS, DAY, datetime.now(UTC))}
    cam1, cam2 = rows["cam1"], rows["cam2"]
    available = cam1["online_s"] / (cam1["online_s"] + cam1["offline_s"])  # type: ignore[operator]
    assert available < 0.3  # 6 h of video out of a 22 h day (2 h behind its uplink)
    assert cam1["online_s"] == 21600
    # while its uplink was down it is still not blamed (unreachable), video or not
    assert cam1["unreachable_s"] >= 7200
    assert cam2["online_s"] == 75600  # the camera next to it is untouched


@POPPLER
@pytest.mark.usefixtures("fixture_day")
def test_partial_month_report_is_an_official_document(
    db: psycopg.Connection, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    head = Letterhead(
        issuing_body="ỦY BAN NHÂN DÂN\nXÃ TỊNH SƠN",
        place="Tịnh Sơn",
        signer_name="Nguyễn Văn An",
        recipients=["UBND tỉnh Quảng Ngãi (b/c)", "Lưu: VT"],
    )
    save_letterhead(db, "21025", head, "admin")
    now = T0 + timedelta(days=1)
    report = monthly_report(db, "21025", DAY, settings=SETTINGS, now=now)
    assert report.partial
    # The month so far has days without data: the coverage says so, the rate is of known time.
    coverage = report.total.coverage_pct
    assert coverage is not None and 0 < coverage < 100
    days = (now - report.period_start).total_seconds() / 86400
    assert coverage == pytest.approx(100 * (5 * 86400 - 86400 - 9000) / (5 * days * 86400), 0.01)
    line = official.headline(report)
    assert line.startswith("Tỷ lệ sẵn sàng toàn xã: ") and "dữ liệu" in line
    assert f"{round(coverage)} % thời gian" in line and "," in line  # Vietnamese decimals

    pdf = render.render(report, "pdf")
    text = _text(pdf, tmp_path)
    for must in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ỦY BAN NHÂN DÂN",
        "XÃ TỊNH SƠN",
        "/BC-UBND",
        f"Tịnh Sơn, ngày {now.day:02d} tháng {now.month:02d} năm {now.year}",
        "BÁO CÁO",
        "Nơi nhận:",
        "- UBND tỉnh Quảng Ngãi (b/c);",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
        "Nguyễn Văn An",
        "dữ liệu",
        "Số liệu tạm tính",
    ):
        assert must in text, must
    assert "…" not in text  # nothing cut: headers and names wrap
    pages = text.split("\f")
    out = Path(os.environ.get("IOC_TEST_ARTEFACTS") or tmp_path_factory.mktemp("report"))
    out = out / "report" if os.environ.get("IOC_TEST_ARTEFACTS") else out
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "2",
            str(out / "report.pdf"),
            str(out / "page"),
        ],
        check=True,
        timeout=60,
    )
    assert list(out.glob("page-*.png"))
    if len([p for p in pages if p.strip()]) > 1:
        assert pages[1].strip().startswith("2")  # page numbers from the second page


@POPPLER
def test_empty_month_says_no_data(db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute("INSERT INTO communes (code, name, province) VALUES ('21099', 'Xã Trống', 'X')")
    report = monthly_report(db, "21099", DAY, settings=SETTINGS, now=T0 + timedelta(days=1))
    assert official.headline(report) == "Không có dữ liệu giám sát trong kỳ báo cáo."
    text = _text(render.render(report, "pdf"), tmp_path)
    assert "Không có dữ liệu" in text and " %" not in text.split("Không có dữ liệu")[0][-40:]


@pytest.mark.usefixtures("fixture_day")
def test_xlsx_holds_numbers_with_a_frozen_filtered_header(db: psycopg.Connection) -> None:
    from openpyxl import load_workbook

    report = monthly_report(db, "21025", DAY, settings=SETTINGS, now=T0 + timedelta(days=1))
    wb = load_workbook(io.BytesIO(render.render(report, "xlsx")))
    ws = wb["Thiết bị"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    header = [c.value for c in ws[1]]
    col = header.index(render.AVAILABILITY) + 1
    values = [ws.cell(row=r, column=col).value for r in range(2, ws.max_row + 1)]
    assert all(v is None or isinstance(v, float | int) for v in values)
    assert any(isinstance(v, float) for v in values)
    assert ws.column_dimensions["C"].width >= 30
