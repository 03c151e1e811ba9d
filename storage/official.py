"""The monthly report as an administrative document (Nghị định 30/2020/NĐ-CP, Phụ lục I):
A4 portrait, national title and motto, issuing body, number and symbol, place and date, title,
body, recipients ("Nơi nhận") and the chairman's signature block; page numbers centred at the
top from the second page. Numbers in Vietnamese format from the glossary."""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from ioc import glossary
from storage.availability import AvailabilityReport, DeviceAvailability, GroupAvailability

NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
KIND = "BÁO CÁO"
SUBJECT = "Mức độ sẵn sàng của hệ thống camera, truyền thanh thông minh và mạng tháng {month}"
RULE = (
    "Sẵn sàng = thời gian hoạt động / (hoạt động + không sẵn sàng). Camera chỉ tính là hoạt "
    "động khi có hình, cụm loa khi phát được. Thời gian {unreachable} (do thiết bị cấp trên), "
    "{maintenance} và {unknown} không tính vào tỷ lệ."
)
SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
LEFT, RIGHT, TOP = 30.0, 15.0, 20.0  # margins (mm) of the decree
HEAD = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))


def _font_dir() -> Path:
    shipped = Path(str(resources.files("storage") / "fonts"))
    return shipped if (shipped / "DejaVuSans.ttf").exists() else SYSTEM_FONTS


class _Document(FPDF):
    def header(self) -> None:
        if self.page_no() > 1:  # the decree: no number on the first page
            self.set_font("DejaVu", "", 10)
            self.set_y(8)
            self.cell(0, 5, str(self.page_no()), align="C")
            self.set_y(TOP)


def _n(value: float | None, decimals: int = 1) -> str:
    return "—" if value is None else glossary.number(value, "vi", decimals)


def _h(seconds: float) -> str:
    return glossary.number(seconds / 3600, "vi", 1)


def headline(report: AvailabilityReport) -> str:
    """``Tỷ lệ sẵn sàng toàn xã: 99,4 % (dữ liệu 92 % thời gian)``; no data says so."""
    total = report.total
    if total.availability_pct is None or not total.coverage_pct:
        return "Không có dữ liệu giám sát trong kỳ báo cáo."
    return (
        f"Tỷ lệ sẵn sàng toàn xã: {glossary.percent(total.availability_pct)} "
        f"(dữ liệu {glossary.percent(total.coverage_pct, decimals=0)} thời gian)."
    )


def _top(pdf: FPDF, report: AvailabilityReport, now: datetime) -> None:
    head = report.letterhead
    left_w, right_w = 70.0, pdf.epw - 70.0
    y = pdf.get_y()
    pdf.set_font("DejaVu", "", 11)
    if head.parent_body:
        pdf.multi_cell(left_w, 5, head.parent_body.upper(), align="C")
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(left_w, 5, head.issuing_body.upper(), align="C")
    pdf.line(LEFT + left_w / 2 - 12, pdf.get_y() + 0.5, LEFT + left_w / 2 + 12, pdf.get_y() + 0.5)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 11)
    number = head.number or "      "
    pdf.cell(left_w, 6, f"Số: {number}/{head.symbol}", align="C")
    left_end = pdf.get_y() + 6
    pdf.set_xy(LEFT + left_w, y)
    pdf.set_font("DejaVu", "B", 10.5)
    pdf.cell(right_w, 5, NATION, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(right_w, 5, MOTTO, align="C", new_x="LEFT", new_y="NEXT")
    middle = LEFT + left_w + right_w / 2
    width = pdf.get_string_width(MOTTO)
    pdf.line(middle - width / 2, pdf.get_y() + 0.5, middle + width / 2, pdf.get_y() + 0.5)
    pdf.ln(4)
    pdf.set_x(LEFT + left_w)
    local = now.astimezone(ZoneInfo(report.timezone))
    pdf.set_font("DejaVu", "I", 11)
    pdf.cell(
        right_w,
        6,
        f"{head.place}, ngày {local.day:02d} tháng {local.month:02d} năm {local.year}",
        align="C",
    )
    pdf.set_y(max(left_end, pdf.get_y() + 6) + 6)
    pdf.set_font("DejaVu", "B", 13)
    pdf.cell(0, 7, KIND, align="C", new_x="LMARGIN", new_y="NEXT")
    month = f"{report.month.month:02d}/{report.month.year}"
    pdf.multi_cell(0, 6, SUBJECT.format(month=month), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _paragraph(pdf: FPDF, text: str, style: str = "") -> None:
    pdf.set_font("DejaVu", style, 11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(
    pdf: FPDF, header: list[str], widths: list[float], rows: list[list[str]], text: int = 1
) -> None:
    """A table whose cells wrap (nothing is cut); the first ``text`` columns are words."""
    pdf.set_font("DejaVu", "", 8.5)
    aligns = ["LEFT"] * text + ["RIGHT"] * (len(header) - text)
    with pdf.table(
        col_widths=widths,
        headings_style=HEAD,
        line_height=4.5,
        text_align=tuple(aligns),
        width=pdf.epw,
        repeat_headings=1,
    ) as table:
        table.row(header)
        for row in rows:
            table.row(row)
    pdf.ln(3)


def _group_rows(groups: list[GroupAvailability]) -> list[list[str]]:
    return [
        [
            g.name,
            str(g.devices),
            _n(g.availability_pct),
            _n(g.coverage_pct, 0),
            _h(g.offline_s),
            _h(g.unreachable_s),
        ]
        for g in groups
    ]


DEVICE_WIDTHS = [9.0, 40.0, 24.0, 17.0, 19.0, 19.0, 18.0, 19.0]


def _device_header() -> list[str]:
    state = glossary.words("states")
    return [
        "STT",
        glossary.word("places", "device"),
        "Loại",
        "Hoạt động (giờ)",
        "Không sẵn sàng (giờ)",
        f"{state['unreachable']} (giờ)",
        f"{state['unknown']} (giờ)",
        "Sẵn sàng (%)",
    ]


def _device_rows(devices: list[DeviceAvailability]) -> list[list[str]]:
    return [
        [
            str(i),
            d.name,
            d.type_name,
            _h(d.online_s),
            _h(d.offline_s),
            _h(d.unreachable_s),
            _h(d.unknown_s),
            _n(d.availability_pct),
        ]
        for i, d in enumerate(devices, 1)
    ]


def _end(pdf: FPDF, report: AvailabilityReport) -> None:
    head = report.letterhead
    if pdf.get_y() > pdf.h - 75:
        pdf.add_page()
    pdf.ln(6)
    y = pdf.get_y()
    half = pdf.epw / 2
    pdf.set_font("DejaVu", "BI", 11)
    pdf.cell(half, 6, "Nơi nhận:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    for i, line in enumerate(head.recipients):
        pdf.cell(half, 4.5, f"- {line}{'.' if i == len(head.recipients) - 1 else ';'}")
        pdf.ln()
    pdf.set_xy(LEFT + half, y)
    pdf.set_font("DejaVu", "B", 11)
    for line in (head.signer_capacity, head.signer_title):
        if line:
            pdf.cell(half, 6, line.upper(), align="C", new_x="LEFT", new_y="NEXT")
    pdf.ln(24)  # room for the signature and the seal
    pdf.set_x(LEFT + half)
    pdf.cell(half, 6, head.signer_name, align="C")


def to_pdf(report: AvailabilityReport) -> bytes:
    """The report as an A4 administrative document with a Unicode font (diacritics)."""
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every glyph subset
    pdf = _Document(orientation="P", format="A4")
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(fonts / "DejaVuSans-Oblique.ttf"))
    pdf.add_font("DejaVu", "BI", str(fonts / "DejaVuSans-BoldOblique.ttf"))
    pdf.set_margins(LEFT, TOP, RIGHT)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(f"{KIND} {SUBJECT.format(month=report.month.strftime('%m/%Y'))}")
    pdf.add_page()
    _top(pdf, report, report.generated_at)
    state = glossary.words("states")
    _paragraph(pdf, "I. TỔNG HỢP", "B")
    _paragraph(pdf, f"1. {headline(report)}")
    if report.partial:
        _paragraph(pdf, "Số liệu tạm tính: tháng báo cáo chưa kết thúc.", "I")
    _paragraph(
        pdf,
        f"2. Tổng thời gian không sẵn sàng: {_h(report.total_downtime_s)} giờ, trong đó do "
        f"chính thiết bị {_h(report.own_downtime_s)} giờ, do thiết bị cấp trên "
        f"{_h(report.total.unreachable_s)} giờ.",
    )
    _paragraph(
        pdf,
        RULE.format(
            unreachable=state["unreachable"].lower(),
            maintenance=state["maintenance"].lower(),
            unknown=state["unknown"].lower(),
        ),
        "I",
    )
    group_header = ["Tên", "Số TB", "Sẵn sàng (%)", "Dữ liệu (% t.gian)", "Không sẵn sàng (giờ)"]
    group_header.append(f"{state['unreachable']} (giờ)")
    widths = [55.0, 14.0, 22.0, 22.0, 26.0, 26.0]
    _paragraph(pdf, f"3. Theo {glossary.word('places', 'type').lower()}", "B")
    _table(pdf, group_header, widths, _group_rows(report.types))
    _paragraph(pdf, f"4. Theo {glossary.word('places', 'site').lower()}", "B")
    _table(pdf, group_header, widths, _group_rows(report.sites))
    if report.worst:
        _paragraph(pdf, "5. Thiết bị kém nhất", "B")
        _table(
            pdf,
            _device_header(),
            DEVICE_WIDTHS,
            _device_rows(report.worst),
            text=3,
        )
    _paragraph(pdf, "II. CHI TIẾT THEO THIẾT BỊ", "B")
    _table(
        pdf,
        _device_header(),
        DEVICE_WIDTHS,
        _device_rows(report.devices),
        text=3,
    )
    _end(pdf, report)
    return bytes(pdf.output())
