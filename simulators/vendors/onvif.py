"""An ONVIF device/media service answering plain SOAP 1.2 with WS-UsernameToken checks.

``clock_offset_s`` shifts the device's clock; requests other than GetSystemDateAndTime need a
PasswordDigest whose ``Created`` is within 5 s of the device's clock (like real cameras).
"""

from __future__ import annotations

import base64
import queue
import re
import secrets
import time
from datetime import UTC, datetime

from collector.protocols.soap import password_digest
from simulators.vendors.httpfake import FakeHttpDevice

SOAP_CT = "application/soap+xml; charset=utf-8"
ENV = (
    '<?xml version="1.0" encoding="UTF-8"?><env:Envelope '
    'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:ter="http://www.onvif.org/ver10/error" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa5="http://www.w3.org/2005/08/addressing">'
    "<env:Body>{}</env:Body></env:Envelope>"
)
FAULT = (
    "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>"
    "ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text "
    'xml:lang="en">Sender not Authorized</env:Text></env:Reason></env:Fault>'
)


def _tag(body: bytes, name: str) -> str | None:
    m = re.search(rb"<(?:\w+:)?" + name.encode() + rb"\b[^>]*>([^<]*)<", body)
    return m.group(1).decode() if m else None


class FakeOnvif(FakeHttpDevice):
    """ONVIF Profile S device with two profiles."""

    def __init__(self, *args: object, rtsp_port: int = 554, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.clock_offset_s = 0.0
        self.serial = "ONVIF0001"
        self.rtsp_port = rtsp_port
        self.notifications: queue.Queue[str] = queue.Queue()
        self.subscriptions = 0

    def notify(self, topic: str, item: str, value: bool, source: str = "VideoSourceToken") -> None:
        """Queue one NotificationMessage for the next PullMessages (as a camera would)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.notifications.put(
            f'<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/'
            f'topicExpression/ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message '
            f'UtcTime="{now}" PropertyOperation="Changed"><tt:Source><tt:SimpleItem '
            f'Name="VideoSourceConfigurationToken" Value="{source}"/></tt:Source><tt:Data>'
            f'<tt:SimpleItem Name="{item}" Value="{str(value).lower()}"/></tt:Data>'
            f"</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        )

    def now(self) -> float:
        return time.time() + self.clock_offset_s

    def _authorized(self, body: bytes) -> bool:
        user, digest = _tag(body, "Username"), _tag(body, "Password")
        nonce, created = _tag(body, "Nonce"), _tag(body, "Created")
        if not (user and digest and nonce and created) or user != self.auth.username:
            return False
        try:
            stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        if abs(stamp.timestamp() - self.now()) > 5:
            return False
        expect = password_digest(base64.b64decode(nonce), created, self.auth.password)
        return secrets.compare_digest(expect, digest)

    def post(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        if b"GetSystemDateAndTime" in body:
            t = datetime.fromtimestamp(self.now(), UTC)
            xml = (
                f"<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>"
                f"NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                f"<tt:TimeZone><tt:TZ>ICT-7</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time>"
                f"<tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute><tt:Second>"
                f"{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
                f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date>"
                f"</tt:UTCDateTime></tds:SystemDateAndTime>"
                f"</tds:GetSystemDateAndTimeResponse>"
            )
            return 200, SOAP_CT, ENV.format(xml).encode()
        if not self._authorized(body):
            return 400, SOAP_CT, ENV.format(FAULT).encode()
        if b"GetDeviceInformation" in body:
            xml = (
                f"<tds:GetDeviceInformationResponse><tds:Manufacturer>Generic"
                f"</tds:Manufacturer><tds:Model>IPC-ONVIF-1</tds:Model><tds:FirmwareVersion>"
                f"1.0.0</tds:FirmwareVersion><tds:SerialNumber>{self.serial}"
                f"</tds:SerialNumber><tds:HardwareId>1</tds:HardwareId>"
                f"</tds:GetDeviceInformationResponse>"
            )
        elif b"CreatePullPointSubscription" in body:
            self.subscriptions += 1
            xml = (
                f"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
                f"<wsa5:Address>http://{self.host}:{self.port}/onvif/pullpoint/"
                f"{self.subscriptions}</wsa5:Address></tev:SubscriptionReference>"
                f"<wsnt:CurrentTime>2026-01-01T00:00:00Z</wsnt:CurrentTime>"
                f"<wsnt:TerminationTime>2026-01-01T00:02:00Z</wsnt:TerminationTime>"
                f"</tev:CreatePullPointSubscriptionResponse>"
            )
        elif b"PullMessages" in body:
            messages = []
            try:  # long poll: wait (briefly) for the first, then take what is queued
                messages.append(self.notifications.get(timeout=1.0))
                while len(messages) < 64:
                    messages.append(self.notifications.get_nowait())
            except queue.Empty:
                pass
            xml = (
                "<tev:PullMessagesResponse><tev:CurrentTime>2026-01-01T00:00:00Z"
                "</tev:CurrentTime><tev:TerminationTime>2026-01-01T00:02:00Z"
                f"</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>"
            )
        elif b"GetProfiles" in body:
            xml = (
                '<trt:GetProfilesResponse><trt:Profiles token="Profile_1" fixed="true">'
                "<tt:Name>mainStream</tt:Name></trt:Profiles><trt:Profiles "
                'token="Profile_2" fixed="true"><tt:Name>subStream</tt:Name></trt:Profiles>'
                "</trt:GetProfilesResponse>"
            )
        elif b"GetStreamUri" in body:
            token = _tag(body, "ProfileToken") or "Profile_1"
            ch = "101" if token == "Profile_1" else "102"
            xml = (
                f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://{self.host}:"
                f"{self.rtsp_port}/Streaming/Channels/{ch}</tt:Uri><tt:InvalidAfterConnect>"
                f"false</tt:InvalidAfterConnect><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
                f"</trt:GetStreamUriResponse>"
            )
        else:
            return (
                400,
                SOAP_CT,
                ENV.format(FAULT.replace("NotAuthorized", "ActionNotSupported")).encode(),
            )
        return 200, SOAP_CT, ENV.format(xml).encode()
