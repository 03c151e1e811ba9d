"""Untrusted XML and multipart: defusedxml, size bounds, parts split anywhere."""

from __future__ import annotations

import pytest

from collector.protocols import xmlsafe
from collector.protocols.multipart import MultipartError, MultipartReader, boundary_of

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<DeviceStatus>&lol2;</DeviceStatus>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><DeviceStatus>&x;</DeviceStatus>"""


@pytest.mark.parametrize("doc", [BOMB, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_entities_are_refused(doc: bytes) -> None:
    with pytest.raises(xmlsafe.XmlError, match="forbidden"):
        xmlsafe.parse(doc)


@pytest.mark.parametrize("doc", [b"", b"<a>", b"\x00\x01garbage", b"<a></b>", b"not xml"])
def test_garbage_is_an_xml_error(doc: bytes) -> None:
    with pytest.raises(xmlsafe.XmlError, match="malformed"):
        xmlsafe.parse(doc)


def test_size_bound() -> None:
    with pytest.raises(xmlsafe.XmlError, match="exceeds"):
        xmlsafe.parse(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)


def test_numbers_must_be_finite() -> None:
    doc = xmlsafe.parse(b'<r xmlns="urn:x"><v>nan</v><w>abc</w><u>12.5</u></r>')
    assert xmlsafe.number(doc, "u") == 12.5
    with pytest.raises(xmlsafe.XmlError, match="finite"):
        xmlsafe.number(doc, "v")
    with pytest.raises(xmlsafe.XmlError, match="not a number"):
        xmlsafe.number(doc, "w")


def _stream(parts: list[bytes], with_length: bool) -> bytes:
    out = b""
    for body in parts:
        length = b"Content-Length: %d\r\n" % len(body) if with_length else b""
        out += b"--boundary\r\nContent-Type: application/xml\r\n" + length + b"\r\n" + body
        out += b"\r\n"
    return out + b"--boundary\r\n"


@pytest.mark.parametrize("with_length", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
def test_parts_survive_any_chunking(with_length: bool, chunk: int) -> None:
    bodies = [b"<a>1</a>", b"<b>two</b>", b"<c>" + b"3" * 500 + b"</c>"]
    data = _stream(bodies, with_length)
    reader = MultipartReader("boundary")
    got = []
    for i in range(0, len(data), chunk):
        got += [p.body for p in reader.feed(data[i : i + chunk])]
    assert got == bodies


def test_part_containing_the_boundary_is_kept_whole_with_length() -> None:
    jpeg = b"\xff\xd8--boundary\r\n\xff\xd9"
    data = _stream([jpeg, b"<x/>"], with_length=True)
    assert [p.body for p in MultipartReader("boundary").feed(data)] == [jpeg, b"<x/>"]


def test_a_part_without_end_is_bounded() -> None:
    reader = MultipartReader("boundary", max_part_bytes=1000)
    reader.feed(b"--boundary\r\nContent-Type: text/plain\r\n\r\n")
    with pytest.raises(MultipartError, match="exceeds"):
        reader.feed(b"x" * 2000)


def test_declared_huge_part_is_refused() -> None:
    reader = MultipartReader("boundary", max_part_bytes=1000)
    with pytest.raises(MultipartError, match="exceeds"):
        reader.feed(b"--boundary\r\nContent-Length: 999999\r\n\r\nabc")


def test_boundary_of() -> None:
    assert boundary_of('multipart/mixed; boundary="abc"') == "abc"
    assert boundary_of("multipart/x-mixed-replace; boundary=myboundary") == "myboundary"
    with pytest.raises(MultipartError):
        boundary_of("application/xml")


def test_part_with_length_is_delivered_before_the_next_boundary() -> None:
    # Events must not wait for the next heartbeat to be seen.
    reader = MultipartReader("boundary")
    body = b"<EventNotificationAlert/>"
    head = b"--boundary\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n" % len(body)
    assert [p.body for p in reader.feed(head + body)] == [body]
    assert [p.body for p in reader.feed(b"\r\n" + head + b"<x/>"[:2])] == []
