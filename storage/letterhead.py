"""The letterhead of a commune's monthly report (Nghị định 30/2020/NĐ-CP): issuing body,
document symbol, place name, signer and recipients; stored per commune, defaults otherwise."""

from __future__ import annotations

import psycopg
from pydantic import BaseModel, ConfigDict, Field

from ioc.bounds import nfc

LOAD = """
SELECT parent_body, issuing_body, symbol, place, signer_capacity, signer_title, signer_name,
       recipients
FROM report_letterheads WHERE commune_code = %(code)s
"""
SAVE = """
INSERT INTO report_letterheads (commune_code, parent_body, issuing_body, symbol, place,
    signer_capacity, signer_title, signer_name, recipients, updated_at, updated_by)
VALUES (%(code)s, %(parent_body)s, %(issuing_body)s, %(symbol)s, %(place)s,
    %(signer_capacity)s, %(signer_title)s, %(signer_name)s, %(recipients)s, now(), %(by)s)
ON CONFLICT (commune_code) DO UPDATE SET parent_body = excluded.parent_body,
    issuing_body = excluded.issuing_body, symbol = excluded.symbol, place = excluded.place,
    signer_capacity = excluded.signer_capacity, signer_title = excluded.signer_title,
    signer_name = excluded.signer_name, recipients = excluded.recipients,
    updated_at = excluded.updated_at, updated_by = excluded.updated_by
"""
FIELDS = (
    "parent_body",
    "issuing_body",
    "symbol",
    "place",
    "signer_capacity",
    "signer_title",
    "signer_name",
    "recipients",
)
UNIT_PREFIXES = ("xã ", "phường ", "thị trấn ", "đặc khu ")


class Letterhead(BaseModel):
    """What the top and the end of the document say; ``number`` is given per issue."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    parent_body: str = Field("", max_length=200)  # cơ quan chủ quản (optional for a commune)
    issuing_body: str = Field(min_length=1, max_length=200)  # "ỦY BAN NHÂN DÂN\nXÃ TỊNH SƠN"
    symbol: str = Field("BC-UBND", min_length=1, max_length=40)
    place: str = Field(min_length=1, max_length=100)  # địa danh: "Tịnh Sơn"
    signer_capacity: str = Field("TM. ỦY BAN NHÂN DÂN", max_length=100)
    signer_title: str = Field("CHỦ TỊCH", min_length=1, max_length=100)
    signer_name: str = Field("", max_length=200)
    recipients: list[str] = Field(default_factory=list, max_length=20)
    number: str = Field("", max_length=20)  # left blank: the clerk writes it when registering


def _bare(name: str) -> str:
    lowered = name.lower()
    for prefix in UNIT_PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix) :]
    return name


def default_letterhead(commune_name: str, province: str) -> Letterhead:
    """A commune People's Committee report to the province, signed by its chairman."""
    place = _bare(commune_name)
    unit = commune_name if commune_name.lower().startswith(UNIT_PREFIXES) else f"Xã {place}"
    recipients = [f"UBND tỉnh {province} (b/c)" if province else "UBND tỉnh (b/c)"]
    recipients += ["Sở Khoa học và Công nghệ tỉnh", "Chủ tịch, các PCT UBND xã", "Lưu: VT"]
    return Letterhead(
        issuing_body=f"ỦY BAN NHÂN DÂN\n{unit.upper()}", place=place, recipients=recipients
    )


def load_letterhead(
    conn: psycopg.Connection, code: str, commune_name: str, province: str
) -> Letterhead:
    """The commune's stored letterhead, or the default one."""
    row = conn.execute(LOAD, {"code": code}).fetchone()
    if row is None:
        return default_letterhead(commune_name, province)
    return Letterhead(**dict(zip(FIELDS, row, strict=True)))


def save_letterhead(conn: psycopg.Connection, code: str, head: Letterhead, by: str) -> None:
    """Store a commune's letterhead (NFC, like every name)."""
    values = head.model_dump(exclude={"number"})
    values = {k: nfc(v) if isinstance(v, str) else [nfc(x) for x in v] for k, v in values.items()}
    conn.execute(SAVE, {**values, "code": code, "by": by})
