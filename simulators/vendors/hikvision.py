"""A Hikvision camera or NVR speaking ISAPI, shaped after Hikvision's ISAPI documents.

State is plain attributes (cpu, uptime, serial, disks, channels...) that tests and the demo
change; documents are rendered on each request. ``alert(...)`` writes an
``EventNotificationAlert`` to every open alertStream; heartbeats are ``videoloss``/``inactive``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from simulators.vendors.httpfake import FakeHttpDevice

NS20 = "http://www.hikvision.com/ver20/XMLSchema"
NS10 = "http://www.hikvision.com/ver10/XMLSchema"
XML = "application/xml; charset=UTF-8"
ICT = timezone(timedelta(hours=7))


@dataclass
class FakeDisk:
    id: str
    status: str = "ok"
    capacity_mb: int = 3_815_447
    free_mb: int = 1_000_000


@dataclass
class FakeChannel:
    id: str
    ip: str
    online: bool = True


@dataclass
class HikState:
    model: str = "DS-2CD2143G2-I"
    serial: str = "DS-2CD2143G2-I20230101AAWRJ00000001"
    firmware: str = "V5.7.3"
    device_type: str = "IPCamera"
    cpu: float = 12.0
    mem: float = 33.0
    booted: float = field(default_factory=lambda: time.time() - 86_400)
    fps_x100: int = 2500
    bitrate_kbps: int = 4096
    disks: list[FakeDisk] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)


class FakeHikvision(FakeHttpDevice):
    """ISAPI camera (``nvr=False``) or NVR (disks and proxied channels)."""

    realm = "IP Camera(C12345678)"
    stream_path = "/ISAPI/Event/notification/alertStream"
    boundary = "boundary"

    def __init__(
        self, *args: object, nvr: bool = False, channels: int = 4, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.state = HikState()
        if nvr:
            self.realm = "DS-7608NI"
            self.state.model, self.state.device_type = "DS-7608NI-K2", "NVR"
            self.state.serial = "DS-7608NI-K20820230101CCRRJ00000001"
            self.state.disks = [FakeDisk("1"), FakeDisk("2")]
            self.state.channels = [
                FakeChannel(str(i), f"192.168.1.{100 + i}") for i in range(1, channels + 1)
            ]
        self.routes.update(
            {
                "/ISAPI/System/deviceInfo": lambda q: (XML, self.device_info()),
                "/ISAPI/System/status": lambda q: (XML, self.status()),
                "/ISAPI/Streaming/channels": lambda q: (XML, self.streaming()),
            }
        )
        if nvr:
            self.routes["/ISAPI/ContentMgmt/Storage"] = lambda q: (XML, self.storage())
            self.routes["/ISAPI/ContentMgmt/InputProxy/channels/status"] = lambda q: (
                XML,
                self.channel_status(),
            )

    def reboot(self) -> None:
        self.state.booted = time.time()

    def device_info(self) -> bytes:
        s = self.state
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" '
            f'xmlns="{NS20}">\n<deviceName>IP CAMERA</deviceName>\n<deviceID>'
            f"88c8a3e2-1f00-11b2-8000-c056e3a1b2c3</deviceID>\n<model>{escape(s.model)}"
            f"</model>\n<serialNumber>{escape(s.serial)}</serialNumber>\n<macAddress>"
            f"c0:56:e3:a1:b2:c3</macAddress>\n<firmwareVersion>{escape(s.firmware)}"
            f"</firmwareVersion>\n<firmwareReleasedDate>build 220112</firmwareReleasedDate>"
            f"\n<deviceType>{escape(s.device_type)}</deviceType>\n</DeviceInfo>\n"
        ).encode()

    def status(self) -> bytes:
        s = self.state
        now = datetime.now(ICT).isoformat(timespec="seconds")
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DeviceStatus version="2.0" '
            f'xmlns="{NS20}">\n<currentDeviceTime>{now}</currentDeviceTime>\n'
            f"<deviceUpTime>{int(time.time() - s.booted)}</deviceUpTime>\n<CPUList>\n<CPU>"
            f"<cpuDescription>ARM Cortex-A7</cpuDescription><cpuUtilization>{s.cpu:g}"
            f"</cpuUtilization></CPU>\n</CPUList>\n<MemoryList>\n<Memory><memoryDescription>"
            f"DDR Memory</memoryDescription><memoryUsage>{s.mem:g}</memoryUsage>"
            f"</Memory>\n</MemoryList>\n</DeviceStatus>\n"
        ).encode()

    def streaming(self) -> bytes:
        s = self.state
        ids = ["101", "102"] if not s.channels else [f"{c.id}01" for c in s.channels]
        chans = "".join(
            f"<StreamingChannel><id>{cid}</id><channelName>Camera {cid}</channelName>"
            f"<enabled>true</enabled><Video><enabled>true</enabled><videoInputChannelID>"
            f"{cid[:-2]}</videoInputChannelID><videoCodecType>H.264</videoCodecType>"
            f"<videoResolutionWidth>1920</videoResolutionWidth><videoResolutionHeight>1080"
            f"</videoResolutionHeight><videoQualityControlType>VBR</videoQualityControlType>"
            f"<constantBitRate>{s.bitrate_kbps}</constantBitRate><fixedQuality>60"
            f"</fixedQuality><vbrUpperCap>{s.bitrate_kbps}</vbrUpperCap><maxFrameRate>"
            f"{s.fps_x100}</maxFrameRate><GovLength>50</GovLength></Video></StreamingChannel>\n"
            for cid in ids
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<StreamingChannelList version="2.0" '
            f'xmlns="{NS20}">\n{chans}</StreamingChannelList>\n'
        ).encode()

    def storage(self) -> bytes:
        disks = "".join(
            f'<hdd version="1.0" xmlns="{NS10}"><id>{d.id}</id><hddName>hdd{d.id}</hddName>'
            f"<hddPath></hddPath><hddType>SATA</hddType><status>{escape(d.status)}</status>"
            f"<capacity>{d.capacity_mb}</capacity><freeSpace>{d.free_mb}</freeSpace>"
            f"<property>RW</property></hdd>\n"
            for d in self.state.disks
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<storage version="1.0" '
            f'xmlns="{NS10}">\n<hddList size="{len(self.state.disks)}">\n{disks}</hddList>\n'
            f'<nasList size="0"></nasList>\n</storage>\n'
        ).encode()

    def channel_status(self) -> bytes:
        chans = "".join(
            f"<InputProxyChannelStatus><id>{c.id}</id><sourceInputPortDescriptor>"
            f"<proxyProtocol>HIKVISION</proxyProtocol><addressingFormatType>ipaddress"
            f"</addressingFormatType><ipAddress>{c.ip}</ipAddress><managePortNo>8000"
            f"</managePortNo><srcInputPort>1</srcInputPort><userName>admin</userName>"
            f"<streamType>auto</streamType></sourceInputPortDescriptor>"
            f"<online>{str(c.online).lower()}</online><chanDetectResult>"
            f"{'connect' if c.online else 'netUnreachable'}</chanDetectResult>"
            f"</InputProxyChannelStatus>\n"
            for c in self.state.channels
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<InputProxyChannelStatusList '
            f'version="2.0" xmlns="{NS20}">\n{chans}</InputProxyChannelStatusList>\n'
        ).encode()

    def alert_xml(
        self, event_type: str, state: str = "active", channel: str = "1", count: int = 1
    ) -> bytes:
        now = datetime.now(ICT).isoformat(timespec="seconds")
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0"'
            f' xmlns="{NS20}">\n<ipAddress>{self.host}</ipAddress>\n<portNo>{self.port}'
            f"</portNo>\n<protocol>HTTP</protocol>\n<macAddress>c0:56:e3:a1:b2:c3"
            f"</macAddress>\n<channelID>{channel}</channelID>\n<dateTime>{now}</dateTime>\n"
            f"<activePostCount>{count}</activePostCount>\n<eventType>{event_type}"
            f"</eventType>\n<eventState>{state}</eventState>\n<eventDescription>"
            f"{event_type} alarm</eventDescription>\n</EventNotificationAlert>\n"
        ).encode()

    def alert(self, event_type: str, state: str = "active", channel: str = "1") -> None:
        """Write one EventNotificationAlert to every open alertStream."""
        self.send_part(
            'application/xml; charset="UTF-8"', self.alert_xml(event_type, state, channel)
        )

    def heartbeat(self) -> tuple[str, bytes]:
        return 'application/xml; charset="UTF-8"', self.alert_xml("videoloss", "inactive")
