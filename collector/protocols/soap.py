"""Plain ONVIF SOAP 1.2 over httpx: envelopes, WS-UsernameToken (PasswordDigest), faults.

Enough for the few calls the onvif check makes without pulling zeep and the WSDLs in.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import httpx

from collector.protocols import xmlsafe
from collector.protocols.errors import SoapError
from collector.protocols.http import read_bounded, transport_error

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
B64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
SCHEMA_NS = "http://www.onvif.org/ver10/schema"


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security PasswordDigest: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()


def security_header(username: str, password: str, skew_s: float = 0.0) -> str:
    """A UsernameToken whose Created is in the device's clock (corrected by ``skew_s``)."""
    nonce = os.urandom(16)
    created = (datetime.now(UTC) + timedelta(seconds=skew_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<Security s:mustUnderstand="1" xmlns="{WSSE}"><UsernameToken>'
        f"<Username>{escape(username)}</Username>"
        f'<Password Type="{DIGEST}">{password_digest(nonce, created, password)}</Password>'
        f'<Nonce EncodingType="{B64}">{base64.b64encode(nonce).decode()}</Nonce>'
        f'<Created xmlns="{WSU}">{created}</Created></UsernameToken></Security>'
    )


def envelope(body: str, security: str = "") -> bytes:
    """A SOAP 1.2 envelope around ``body``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}">'
        f"<s:Header>{security}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


async def call(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    security: str = "",
    *,
    max_bytes: int = 500_000,
    timeout_s: float | None = None,
) -> Element:
    """POST one SOAP request; the Body's first child, or SoapError (faults, auth, parse)."""
    try:
        async with client.stream(
            "POST",
            url,
            content=envelope(body, security),
            timeout=httpx.Timeout(timeout_s) if timeout_s else httpx.USE_CLIENT_DEFAULT,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        ) as resp:
            data = await read_bounded(resp, max_bytes, url)
            status = resp.status_code
    except httpx.HTTPError as exc:
        raise transport_error(exc, url) from None
    try:
        doc = xmlsafe.parse(data)
    except xmlsafe.XmlError as exc:
        raise SoapError(f"{url}: HTTP {status}: {exc}", kind="parse") from None
    soap_body = xmlsafe.find(doc, "Body")
    first = next(iter(soap_body), None) if soap_body is not None else None
    if first is None:
        raise SoapError(f"{url}: SOAP answer without a Body", kind="parse")
    if xmlsafe.local(first.tag) == "Fault":
        reason = " ".join((xmlsafe.text(first, "Reason", "Text") or "").split())[:160]
        codes = " ".join(
            (n.text or "").strip() for n in first.iter() if xmlsafe.local(n.tag) == "Value"
        )
        kind = (
            "auth"
            if "NotAuthorized" in codes or (status in (400, 401) and "uth" in (reason + codes))
            else "error"
        )
        raise SoapError(f"{url}: SOAP fault {codes or '-'}: {reason}", kind=kind)
    if status >= 400:
        raise SoapError(f"{url}: HTTP {status}", kind="auth" if status == 401 else "http")
    return first


def utc_of(answer: Element) -> datetime:
    """GetSystemDateAndTimeResponse -> the device's UTC clock (second resolution)."""
    utc = xmlsafe.find(answer, "UTCDateTime")
    if utc is None:
        raise xmlsafe.XmlError("SystemDateAndTime without UTCDateTime")
    parts = [xmlsafe.number(utc, "Date", k) for k in ("Year", "Month", "Day")] + [
        xmlsafe.number(utc, "Time", k) for k in ("Hour", "Minute", "Second")
    ]
    if any(p is None for p in parts):
        raise xmlsafe.XmlError("UTCDateTime incomplete")
    y, mo, d, h, mi, s = (int(p or 0) for p in parts)
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError as exc:
        raise xmlsafe.XmlError(f"UTCDateTime invalid: {exc}") from None
