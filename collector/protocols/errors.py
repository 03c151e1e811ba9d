"""The protocol clients' errors, one type per client::

    ProtocolError            reason (one line, safe to log and publish) and kind
    ├── HttpError            protocols.http: transport, status, size (timeout, refused, auth, ...)
    │   └── SoapError        protocols.soap: faults, a reply without a Body
    ├── RtspError            protocols.rtsp
    ├── IcmpError            protocols.icmp: no socket to send echoes with
    ├── XmlError             protocols.xmlsafe (also a ValueError)
    └── MultipartError       protocols.multipart (also a ValueError)

``kind`` is a short machine word (``timeout``, ``refused``, ``auth``, ``parse``, ``http``,
``too_large``, ``disconnected``, ...); checks keep it when they translate the error into their
``CheckError`` (:meth:`collector.checks.base.CheckError.of`).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """A device did not speak its protocol usefully."""

    default_kind = "error"

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind or self.default_kind


class HttpError(ProtocolError):
    """An HTTP exchange failed: no connection, a timeout, a refused status, an oversized body."""


class SoapError(HttpError):
    """A SOAP reply is a fault or not a SOAP envelope."""


class RtspError(ProtocolError):
    """The server did not speak RTSP usefully."""


class IcmpError(ProtocolError):
    """No socket to send ICMP echoes with."""

    default_kind = "setup"


class XmlError(ProtocolError, ValueError):
    """The document is not XML we can read (malformed, entities, too large)."""

    default_kind = "parse"


class MultipartError(ProtocolError, ValueError):
    """The body is not the multipart stream it claims to be."""

    default_kind = "parse"
