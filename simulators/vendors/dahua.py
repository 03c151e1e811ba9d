"""A Dahua camera or NVR speaking the HTTP CGI API (key=value text, digest auth, attach stream)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

from simulators.vendors.httpfake import FakeHttpDevice

TEXT = "text/plain;charset=utf-8"


@dataclass
class DahuaDisk:
    name: str
    state: str = "Success"
    total: float = 4_000_787_030_016.0
    used: float = 1_000_000_000_000.0
    is_error: bool = False


@dataclass
class DahuaState:
    device_type: str = "IPC-HDW2431T-AS-S2"
    serial: str = "6J0ABC1PAZ00001"
    version: str = "2.800.0000000.25.R,build:2021-07-15"
    disks: list[DahuaDisk] = field(default_factory=list)


class FakeDahua(FakeHttpDevice):
    """magicBox / storageDevice / eventManager CGI of one device."""

    realm = "Login to 6J0ABC1PAZ00001"
    stream_path = "/cgi-bin/eventManager.cgi"
    boundary = "myboundary"

    def __init__(self, *args: object, nvr: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.state = DahuaState()
        if nvr:
            self.state.device_type = "DHI-NVR4108HS-8P-4KS2"
            self.state.serial = "7E0DEF2PAZ00002"
            self.state.disks = [DahuaDisk("/dev/sda"), DahuaDisk("/dev/sdb")]
        self.routes["/cgi-bin/magicBox.cgi"] = self.magicbox
        self.routes["/cgi-bin/storageDevice.cgi"] = self.storage

    def magicbox(self, query: str) -> tuple[str, bytes]:
        action = parse_qs(query).get("action", [""])[0]
        s = self.state
        if action == "getSystemInfo":
            body = (
                f"deviceType={s.device_type}\r\nprocessor=S2LM\r\nserialNumber={s.serial}"
                f"\r\nupdateSerial={s.device_type}\r\n"
            )
        elif action == "getDeviceType":
            body = f"type={s.device_type}\r\n"
        elif action == "getSoftwareVersion":
            body = f"version={s.version}\r\n"
        else:
            return TEXT, b"Error\r\nBad Request!\r\n"
        return TEXT, body.encode()

    def storage(self, query: str) -> tuple[str, bytes]:
        lines = []
        for i, d in enumerate(self.state.disks):
            p = f"list.info[{i}]"
            lines += [
                f"{p}.Detail[0].IsError={str(d.is_error).lower()}",
                f"{p}.Detail[0].Path=/dev/sd{i}1",
                f"{p}.Detail[0].TotalBytes={d.total:.6f}",
                f"{p}.Detail[0].Type=ReadWrite",
                f"{p}.Detail[0].UsedBytes={d.used:.6f}",
                f"{p}.Name={d.name}",
                f"{p}.State={d.state}",
            ]
        return TEXT, ("\r\n".join(lines) + "\r\n").encode()

    def event(self, code: str, action: str = "Start", index: int = 0) -> None:
        """Write one event part to every attached stream."""
        self.send_part("text/plain", f"Code={code};action={action};index={index}".encode())

    def heartbeat(self) -> tuple[str, bytes]:
        return "text/plain", b"Heartbeat"
