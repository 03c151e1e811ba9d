"""Render an availability report as CSV, JSON, XLSX or PDF, with Vietnamese headings."""

from __future__ import annotations

import csv
import io
import logging
import math
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ioc.errors import ConfigError
from storage.availability import AvailabilityReport, DeviceAvailability, GroupAvailability

if TYPE_CHECKING:
    from fpdf import FPDF

Format = Literal["csv", "json", "xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("csv", "json", "xlsx", "pdf")
DEVICE_ROWS_PER_PAGE = 30
TITLE = "Báo cáo mức độ sẵn sàng của thiết bị"
LEVELS = {"device": "Thiết bị", "site": "Điểm lắp đặt", "type": "Loại thiết bị", "total": "Toàn xã"}
HOURS = (
    ("online_s", "Hoạt động (giờ)"),
    ("offline_s", "Ngừng hoạt động (giờ)"),
    ("unreachable_s", "Mất kết nối do thiết bị cấp trên (giờ)"),
    ("maintenance_s", "Bảo trì (giờ)"),
    ("unknown_s", "Không xác định (giờ)"),
)
AVAILABILITY = "Tỷ lệ sẵn sàng (%)"
CSV_HEADER = [
    "Cấp",
    "Mã",
    "Tên",
    "Loại thiết bị",
    "Điểm lắp đặt",
    *(h for _, h in HOURS),
    AVAILABILITY,
]
PDF_HOURS = (
    "Hoạt động (giờ)",
    "Ngừng (giờ)",
    "Do cấp trên (giờ)",
    "Bảo trì (giờ)",
    "Không rõ (giờ)",
)
PDF_NOTE = (
    "Ngừng: thiết bị tự ngừng hoạt động. Do cấp trên: mất kết nối vì thiết bị cấp trên "
    "(đường truyền, switch) hỏng. Sẵn sàng = hoạt động / (hoạt động + ngừng)."
)
SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")


def subtitle(report: AvailabilityReport) -> str:
    """'Tháng 11/2026 — Xã ..., tỉnh ...' line."""
    month = f"Tháng {report.month.month:02d}/{report.month.year}"
    partial = " (tạm tính, tháng chưa kết thúc)" if report.partial else ""
    return f"{month}{partial} — {report.commune_name} (mã {report.commune_code}), {report.province}"


def _hours(value: float) -> float:
    return round(value / 3600, 2)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _device_row(d: DeviceAvailability) -> list[object]:
    return [
        LEVELS["device"],
        d.device_id,
        d.name,
        d.type_name,
        d.site_name,
        *(_hours(getattr(d, k)) for k, _ in HOURS),
        _pct(d.availability_pct),
    ]


def _group_row(level: str, g: GroupAvailability) -> list[object]:
    return [
        LEVELS[level],
        g.key,
        g.name,
        "",
        "",
        *(_hours(getattr(g, k)) for k, _ in HOURS),
        _pct(g.availability_pct),
    ]


def table_rows(report: AvailabilityReport) -> list[list[object]]:
    """Devices, then sites, types and the commune total, as one flat table."""
    rows = [_device_row(d) for d in report.devices]
    rows += [_group_row("site", g) for g in report.sites]
    rows += [_group_row("type", g) for g in report.types]
    rows.append(_group_row("total", report.total))
    return rows


def to_csv(report: AvailabilityReport) -> bytes:
    """UTF-8 CSV with a BOM (Excel opens the diacritics correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_HEADER)
    writer.writerows(table_rows(report))
    return buf.getvalue().encode("utf-8-sig")


def _missing(fmt: str, package: str) -> ConfigError:
    return ConfigError(
        f"--format {fmt} needs the {package} package, which is missing from this environment: "
        f"pip install {package} (or reinstall: pip install -e .)"
    )


def to_json(report: AvailabilityReport) -> bytes:
    """The report model as JSON."""
    return report.model_dump_json(indent=2).encode()


def to_xlsx(report: AvailabilityReport) -> bytes:
    """A workbook: summary, devices, sites, types, worst devices."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ModuleNotFoundError as exc:
        raise _missing("xlsx", "openpyxl") from exc

    wb = Workbook()
    summary = wb.active
    summary.title = "Tổng hợp"
    summary.append([TITLE])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([subtitle(report)])
    summary.append([])
    summary.append(["Tổng thời gian ngừng hoạt động (giờ)", _hours(report.total_downtime_s)])
    summary.append(["Trong đó do chính thiết bị (giờ)", _hours(report.own_downtime_s)])
    summary.append([AVAILABILITY + " toàn xã", _pct(report.total.availability_pct)])
    sheets = (
        ("Thiết bị", [_device_row(d) for d in report.devices]),
        ("Theo điểm", [_group_row("site", g) for g in report.sites]),
        ("Theo loại", [_group_row("type", g) for g in report.types]),
        ("Kém nhất", [_device_row(d) for d in report.worst]),
    )
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        ws.append(CSV_HEADER)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _font_dir() -> Path:
    shipped = Path(str(resources.files("storage") / "fonts"))
    return shipped if (shipped / "DejaVuSans.ttf").exists() else SYSTEM_FONTS


def pdf_pages(report: AvailabilityReport) -> int:
    """Pages of the PDF: one summary page, then the device table."""
    return 1 + max(1, math.ceil(len(report.devices) / DEVICE_ROWS_PER_PAGE))


def to_pdf(report: AvailabilityReport) -> bytes:
    """A4 PDF with a Unicode font (DejaVu Sans) so Vietnamese diacritics render."""
    try:
        from fpdf import FPDF
    except ModuleNotFoundError as exc:
        raise _missing("pdf", "fpdf2") from exc

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every glyph subset
    pdf = FPDF(orientation="L", format="A4")
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(False)
    pdf.set_title(TITLE)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 9, TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(0, 6, subtitle(report), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        f"Tỷ lệ sẵn sàng toàn xã: {_pct(report.total.availability_pct)} % — tổng thời gian "
        f"ngừng hoạt động {_hours(report.total_downtime_s)} giờ (do chính thiết bị "
        f"{_hours(report.own_downtime_s)} giờ)",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("DejaVu", "", 8)
    pdf.cell(0, 5, PDF_NOTE, new_x="LMARGIN", new_y="NEXT")
    groups = [("Theo loại thiết bị", report.types), ("Theo điểm lắp đặt", report.sites[:10])]
    for heading, items in groups:
        _heading(pdf, heading)
        rows = [
            [
                g.name,
                g.devices,
                *(_hours(getattr(g, k)) for k, _ in HOURS),
                _pct(g.availability_pct),
            ]
            for g in items
        ]
        _table(pdf, ["Tên", "Số TB", *PDF_HOURS, "Sẵn sàng (%)"], [80, 16] + [28] * 6, rows)
    _heading(pdf, "Thiết bị kém nhất")
    rows = [
        [d.device_id, d.name, _pct(d.availability_pct), _hours(d.offline_s)]
        for d in report.worst[:6]
    ]
    _table(pdf, ["Mã", "Tên", "Sẵn sàng (%)", "Ngừng (giờ)"], [45, 90, 28, 28], rows)
    for i in range(0, max(1, len(report.devices)), DEVICE_ROWS_PER_PAGE):
        pdf.add_page()
        _heading(pdf, "Chi tiết theo thiết bị")
        rows = [
            [
                d.device_id,
                d.name,
                d.type_name,
                *(_hours(getattr(d, k)) for k, _ in HOURS),
                _pct(d.availability_pct),
            ]
            for d in report.devices[i : i + DEVICE_ROWS_PER_PAGE]
        ]
        header = ["Mã", "Tên", "Loại", *PDF_HOURS, "Sẵn sàng (%)"]
        _table(pdf, header, [40, 72, 34] + [22] * 6, rows)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Cut ``text`` with an ellipsis so that it fits in ``width`` mm (with padding)."""
    if pdf.get_string_width(text) <= width - 2:
        return text
    while text and pdf.get_string_width(text + "…") > width - 2:
        text = text[:-1]
    return text + "…"


def _table(pdf: FPDF, header: list[str], widths: list[int], rows: list[list[object]]) -> None:
    pdf.set_font("DejaVu", "B", 7)
    for w, h in zip(widths, header, strict=True):
        pdf.cell(w, 5, _fit(pdf, h, w), border=1)
    pdf.ln()
    pdf.set_font("DejaVu", "", 7)
    for row in rows:
        for w, value in zip(widths, row, strict=True):
            pdf.cell(w, 5, _fit(pdf, str(value), w), border=1)
        pdf.ln()


RENDERERS = {"csv": to_csv, "json": to_json, "xlsx": to_xlsx, "pdf": to_pdf}


def render(report: AvailabilityReport, fmt: Format) -> bytes:
    """The report in the given format."""
    return RENDERERS[fmt](report)
