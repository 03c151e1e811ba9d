"""Render an availability report as CSV, JSON, XLSX or PDF, with Vietnamese headings."""

from __future__ import annotations

import csv
import io
from typing import Literal

from ioc import glossary
from ioc.errors import ConfigError
from storage.availability import AvailabilityReport, DeviceAvailability, GroupAvailability

Format = Literal["csv", "json", "xlsx", "pdf"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: tuple[Format, ...] = ("csv", "json", "xlsx", "pdf")
TITLE = "Báo cáo mức độ sẵn sàng của thiết bị"
_PLACE = glossary.words("places")
_STATE = glossary.words("states")
LEVELS = {
    "device": _PLACE["device"],
    "site": _PLACE["site"],
    "type": _PLACE["type"],
    "total": "Toàn xã",
}
HOURS = (
    ("online_s", "Hoạt động (giờ)"),
    ("offline_s", "Không sẵn sàng (giờ)"),
    ("unreachable_s", f"{_STATE['unreachable']} (giờ)"),
    ("maintenance_s", f"{_STATE['maintenance']} (giờ)"),
    ("unknown_s", f"{_STATE['unknown']} (giờ)"),
)
AVAILABILITY = "Tỷ lệ sẵn sàng (%)"
COVERAGE = "Dữ liệu (% thời gian)"
CSV_HEADER = [
    "Cấp",
    "Mã",
    "Tên",
    _PLACE["type"],
    _PLACE["site"],
    *(h for _, h in HOURS),
    AVAILABILITY,
    COVERAGE,
]


def subtitle(report: AvailabilityReport) -> str:
    """'Tháng 11/2026 — Xã ..., tỉnh ...' line."""
    month = f"Tháng {report.month.month:02d}/{report.month.year}"
    partial = " (tạm tính, tháng chưa kết thúc)" if report.partial else ""
    return f"{month}{partial} — {report.commune_name}, {report.province}"


def _hours(value: float) -> float:
    return round(value / 3600, 2)


def _pct(value: float | None) -> float | None:
    """A percentage as a number (an empty cell when there is none)."""
    return None if value is None else round(value, 2)


def _device_row(d: DeviceAvailability) -> list[object]:
    return [
        LEVELS["device"],
        d.device_id,
        d.name,
        d.type_name,
        d.site_name,
        *(_hours(getattr(d, k)) for k, _ in HOURS),
        _pct(d.availability_pct),
        _pct(d.coverage_pct),
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
        _pct(g.coverage_pct),
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
    writer.writerows(["" if v is None else v for v in row] for row in table_rows(report))
    return buf.getvalue().encode("utf-8-sig")


def _missing(fmt: str, package: str) -> ConfigError:
    return ConfigError(
        f"--format {fmt} needs the {package} package, which is missing from this environment: "
        f"pip install {package} (or reinstall: pip install -e .)"
    )


def to_json(report: AvailabilityReport) -> bytes:
    """The report model as JSON."""
    return report.model_dump_json(indent=2).encode()


WIDTHS = (12, 16, 34, 22, 24, 14, 14, 14, 12, 14, 14, 14)


def to_xlsx(report: AvailabilityReport) -> bytes:
    """A workbook: summary, devices, sites, types, worst devices; numbers stay numbers, with
    column widths, a frozen header row and filters."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter
    except ModuleNotFoundError as exc:
        raise _missing("xlsx", "openpyxl") from exc

    wb = Workbook()
    summary = wb.active
    summary.title = "Tổng hợp"
    summary.append([TITLE])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append([subtitle(report)])
    summary.append([])
    summary.append(["Tổng thời gian không sẵn sàng (giờ)", _hours(report.total_downtime_s)])
    summary.append(["Trong đó do chính thiết bị (giờ)", _hours(report.own_downtime_s)])
    summary.append([AVAILABILITY + " toàn xã", _pct(report.total.availability_pct)])
    summary.append([COVERAGE, _pct(report.total.coverage_pct)])
    summary.column_dimensions["A"].width = 42
    summary.column_dimensions["B"].width = 14
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
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in rows:
            ws.append(row)
        for i, width in enumerate(WIDTHS, 1):
            ws.column_dimensions[get_column_letter(i)].width = width
        for column in ws.iter_cols(min_row=2, min_col=6, max_col=len(CSV_HEADER)):
            for cell in column:
                cell.number_format = "0.00"
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(CSV_HEADER))}{max(ws.max_row, 1)}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_pdf(report: AvailabilityReport) -> bytes:
    """The official A4 document (``storage.official``)."""
    try:
        import fpdf  # noqa: F401  (checked here: storage.official may be imported already)
    except ModuleNotFoundError as exc:
        raise _missing("pdf", "fpdf2") from exc
    from storage import official

    return official.to_pdf(report)


RENDERERS = {"csv": to_csv, "json": to_json, "xlsx": to_xlsx, "pdf": to_pdf}


def render(report: AvailabilityReport, fmt: Format) -> bytes:
    """The report in the given format."""
    return RENDERERS[fmt](report)
