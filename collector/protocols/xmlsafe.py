"""Untrusted XML from devices: defusedxml parsing, a size bound, namespace-free lookups.

Cameras answer in namespaced XML (``http://www.hikvision.com/ver20/XMLSchema`` and friends,
whose version varies by firmware); lookups here match on the local tag name so one parser
serves every firmware. Anything unparseable raises :class:`XmlError` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from collector.protocols.errors import XmlError

MAX_XML_BYTES = 1_000_000


def parse(data: bytes | str, *, max_bytes: int = MAX_XML_BYTES) -> Element:
    """Parse untrusted XML (no DTD entities, no external references, bounded size)."""
    if len(data) > max_bytes:
        raise XmlError(f"XML of {len(data)} bytes exceeds {max_bytes}")
    try:
        return fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise XmlError(f"forbidden XML construct: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise XmlError(f"malformed XML: {exc}"[:200]) from None


def local(tag: str) -> str:
    """The tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def children(elem: Element, name: str) -> Iterator[Element]:
    """Direct children named ``name`` (any namespace)."""
    return (c for c in elem if local(c.tag) == name)


def find(elem: Element, *path: str) -> Element | None:
    """The first element along ``path`` of local names (each step searches the whole subtree
    when it is the first, direct children afterwards), or None."""
    if not path:
        return elem
    first, rest = path[0], path[1:]
    for node in elem.iter():
        if local(node.tag) == first:
            found = _walk(node, rest)
            if found is not None:
                return found
    return None


def _walk(elem: Element, path: tuple[str, ...]) -> Element | None:
    for name in path:
        nxt = next(children(elem, name), None)
        if nxt is None:
            return None
        elem = nxt
    return elem


def text(elem: Element, *path: str) -> str | None:
    """Stripped text at ``path`` (see :func:`find`), or None when absent or empty."""
    node = find(elem, *path)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def number(elem: Element, *path: str) -> float | None:
    """Text at ``path`` as a float, or None when absent; XmlError when not a number."""
    raw = text(elem, *path)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise XmlError(f"{'/'.join(path)}: not a number ({len(raw)} characters)") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise XmlError(f"{'/'.join(path)}: not a finite number")
    return value
