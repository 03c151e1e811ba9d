"""The demo's edge part: devices that speak only ICMP, SNMP and a vendor JSON API, watched by
``ioc collector run`` (a subprocess, as on a commune's LAN box), plus a scheduled outage.

Debian's ``snmpd`` (when installed) serves IF-MIB and a UPS on battery on a free loopback
port; cameras answer ping on 127.0.3.x; three loudspeaker clusters live on a fake vendor
platform; a Hikvision NVR and cameras (ISAPI fakes, :mod:`simulators.vendors.demo_cameras`) lose
video on channel 2 at +60 s and a disk at +150 s. The collector reaches the broker through a
small TCP relay that the scheduled fault cuts for a few minutes: the collector's last will fires, its devices become *unobserved*
(one root-cause alert), readings pile up in its outbox and are backfilled when the link returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from demo.edge_parts import Relay, VendorPlatform
from ioc.ports import free_port
from ioc.secretfile import write_secret
from simulators.vendors import demo_cameras

log = logging.getLogger(__name__)
COLLECTOR_ID = "ts-collector"
COMMUNITY = "demo-community"
VENDOR_TOKEN = "demo-vendor-token"
OUTAGE = (120.0, 180.0)  # collector cut off from the broker at +120 s for 180 s
# Hikvision NVR + cameras (ISAPI fakes): video loss on NVR channel 2 at +60 s for 300 s,
# NVR disk 2 fails at +150 s.
CAMERA_FAULTS = {"video_loss_at_s": 60.0, "video_loss_for_s": 300.0, "disk_at_s": 150.0}
SPEAKER_MAP = (
    "{rsrp_dbm: {path: lte.rsrp}, sinr_db: {path: lte.sinr}, volume: {path: player.volume}, "
    'state: {path: player.mode, map: {"0": idle, "1": playing, "9": emergency}}, '
    'mains_ok: {path: power.ac, map: {"on": true, "off": false}}}'
)


def inventory(snmp_port: int | None, vendor_url: str) -> str:
    """The edge part of Xã Tịnh Sơn (added to the demo registry)."""
    lines = [
        "devices:",
        f'  - {{id: {COLLECTOR_ID}, type: collector, commune: "21025", site: ts-ubnd,',
        '     name: "Bộ thu thập tại UBND xã"}',
    ]
    link_checks = "ping: {}"
    if snmp_port:
        link_checks += f", snmp: {{port: {snmp_port}, community_env: DEMO_SNMP_COMMUNITY}}"
    lines.append(
        '  - {id: ts-edge-sw, type: link, commune: "21025", site: ts-ubnd, address: 127.0.0.1, '
        f'name: "Switch tầng 2 (SNMP)", collector: {COLLECTOR_ID}, checks: {{{link_checks}}}}}'
    )
    if snmp_port:
        lines.append(
            '  - {id: ts-edge-ups, type: ups, commune: "21025", site: ts-ubnd, '
            f'address: 127.0.0.1, name: "Tủ mạng UBND", collector: {COLLECTOR_ID}, '
            f"checks: {{snmp: {{port: {snmp_port}, community_env: DEMO_SNMP_COMMUNITY}}}}}}"
        )
    for i in range(1, 5):
        lines.append(
            f'  - {{id: ts-edge-cam-{i:02d}, type: camera, commune: "21025", site: ts-ubnd, '
            f'parent: ts-edge-sw, address: 127.0.3.{i}, name: "Camera hội trường {i}", '
            f"collector: {COLLECTOR_ID}, checks: {{ping: {{}}}}}}"
        )
    for i in range(1, 4):
        lines.append(
            f'  - {{id: ts-edge-spk-{i}, type: speaker, commune: "21025", address: 127.0.0.1, '
            f'name: "Cụm loa nền tảng {i}", collector: {COLLECTOR_ID}, '
            f'checks: {{http_json: {{url: "{vendor_url}/clusters/{i}", '
            f"auth: {{type: bearer, token_env: DEMO_VENDOR_TOKEN}}, metrics: {SPEAKER_MAP}}}}}}}"
        )
    return "\n".join(lines) + "\n"


def _snmpd(work: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("snmpd") or (
        "/usr/sbin/snmpd" if Path("/usr/sbin/snmpd").exists() else None
    )
    if binary is None:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    conf = work / "snmpd.conf"
    conf.write_text(
        f"rocommunity {COMMUNITY} 127.0.0.1\n"
        # UPS-MIB (RFC 1628): on battery, 25 minutes left, 80 % charge, 40 % load.
        "override 1.3.6.1.2.1.33.1.2.1.0 integer 2\n"
        "override 1.3.6.1.2.1.33.1.2.3.0 integer 25\n"
        "override 1.3.6.1.2.1.33.1.2.4.0 integer 80\n"
        "override 1.3.6.1.2.1.33.1.4.1.0 integer 5\n"
        "override 1.3.6.1.2.1.33.1.4.4.1.5.1 integer 40\n"
    )
    proc = subprocess.Popen(
        [binary, "-f", "-Lf", str(work / "snmpd.log"), "-C", "-c", str(conf),
         f"--persistentDir={work}", "-p", str(work / "snmpd.pid"), f"udp:127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, port


class Edge:
    """snmpd, the vendor platform, the relay and the collector subprocess of the demo."""

    def __init__(
        self,
        mqtt_url: str,
        say: Any,
        outage: tuple[float, float] = OUTAGE,
        interval_s: int = 0,
        protocol: str = "5",
        client_prefix: str = "demo-collector-",
        camera_faults: dict[str, float] | None = None,
    ) -> None:
        self.say = say
        self.client_prefix = client_prefix
        self.protocol = protocol
        self.outage = outage
        self.work = Path(tempfile.mkdtemp(prefix="ioc-demo-edge-"))
        self.mqtt_url = mqtt_url
        self.snmpd: subprocess.Popen[bytes] | None = None
        self.vendor = VendorPlatform(VENDOR_TOKEN)
        self.relay: Relay | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._faults: threading.Thread | None = None
        self.camera_faults = {**CAMERA_FAULTS, **(camera_faults or {})}
        self.camera_password = secrets.token_urlsafe(12)  # the collector's secrets file only
        self.cameras = demo_cameras.start(
            "21025", COLLECTOR_ID, self.camera_password, prefix="ts-edge-hik", site="ts-ubnd",
            interval_s=interval_s or 30,
        )  # fmt: skip
        self._cam_loop: asyncio.AbstractEventLoop | None = None
        self._cam_task: asyncio.Task[None] | None = None
        self._cam_thread: threading.Thread | None = None
        snmp = _snmpd(self.work)
        snmp_port = None
        if snmp is not None:
            self.snmpd, snmp_port = snmp
        else:
            say("edge: snmpd not installed; the demo collector pings only (apt-get install snmpd)")
        self.inventory = inventory(snmp_port, self.vendor.url)
        if interval_s:  # tests: report faster than the types' 30-60 s
            self.inventory = self.inventory.replace(
                "collector: ts-collector,", f"collector: ts-collector, interval_s: {interval_s},"
            ).replace(
                'name: "Bộ thu thập tại UBND xã"}',
                f'name: "Bộ thu thập tại UBND xã", interval_s: {interval_s}}}',
            )
        # JSON is YAML flow: the camera fakes' devices join the inventory as they are.
        self.inventory += "".join(f"  - {json.dumps(d, ensure_ascii=False)}\n"
                                  for d in self.cameras.devices)  # fmt: skip

    @property
    def device_count(self) -> int:
        """Devices the collector watches."""
        return self.inventory.count("collector: ") + len(self.cameras.devices)

    def start(self) -> None:
        """Start the vendor platform, the relay and the collector."""
        self.vendor.start()
        broker = urlsplit(self.mqtt_url)
        self.relay = Relay(broker.hostname or "127.0.0.1", broker.port or 1883, free_port())
        self.relay.start()
        relayed = urlunsplit(broker._replace(netloc=self._netloc(broker, self.relay.port)))
        (self.work / "inventory.yaml").write_text(self.inventory, encoding="utf-8")
        # Device secrets live in the collector's secrets file (owner-only), never its env.
        secrets_file = self.work / "secrets.env"
        write_secret(
            secrets_file,
            f"DEMO_SNMP_COMMUNITY={COMMUNITY}\nDEMO_VENDOR_TOKEN={VENDOR_TOKEN}\n"
            f"{demo_cameras.PASSWORD_ENV}={self.camera_password}\n",
        )
        env = {
            **os.environ,
            "IOC_MQTT_URL": relayed,
            "IOC_MQTT_PROTOCOL": self.protocol,
            "IOC_COLLECTOR_CLIENT_PREFIX": self.client_prefix,
            "IOC_COLLECTOR_ID": COLLECTOR_ID,
            "IOC_COLLECTOR_STATE_DIR": str(self.work / "state"),
            "IOC_COLLECTOR_SECRETS_FILE": str(secrets_file),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ioc", "collector", "run", "--inventory",
             str(self.work / "inventory.yaml")],
            env=env, stdout=(self.work / "collector.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._faults = threading.Thread(target=self._outage, name="demo-edge-fault", daemon=True)
        self._faults.start()
        self._cam_thread = threading.Thread(target=self._camera_script, name="demo-cameras",
                                            daemon=True)  # fmt: skip
        self._cam_thread.start()

    def _camera_script(self) -> None:
        loop = asyncio.new_event_loop()
        self._cam_loop = loop
        self._cam_task = loop.create_task(demo_cameras.script(self.cameras, **self.camera_faults))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(self._cam_task)
        loop.close()

    @staticmethod
    def _netloc(parts: Any, port: int) -> str:
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return f"{auth}127.0.0.1:{port}"

    def _outage(self) -> None:
        at, duration = self.outage
        if self._stop.wait(at) or self.relay is None:
            return
        self.say(f"edge: collector {COLLECTOR_ID} cut off from the broker for {duration:.0f} s "
                 "(its devices become unobserved; readings are buffered and backfilled)")  # fmt: skip
        self.relay.cut()
        if self._stop.wait(duration):
            return
        self.relay.restore()
        self.say(f"edge: collector {COLLECTOR_ID} reconnected; replaying its buffer")

    def stop(self) -> None:
        """Stop everything the edge part started."""
        self._stop.set()
        if self._cam_loop is not None and self._cam_task is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed: script done
                self._cam_loop.call_soon_threadsafe(self._cam_task.cancel)
        if self._cam_thread is not None:
            self._cam_thread.join(5)
        for proc in (self.proc, self.snmpd):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if self.relay is not None:
            self.relay.close()
        self.vendor.close()
        self.cameras.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def started(edge: Edge, deadline_s: float = 10.0) -> bool:
    """Whether the collector process is (still) running a moment after start."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if edge.proc is not None and edge.proc.poll() is not None:
            return False
        time.sleep(0.2)
    return True


@contextlib.contextmanager
def running_edge(db_url: str, mqtt_url: str, say: Any, **options: Any) -> Iterator[Edge]:
    """Import the edge devices, start the collector; stop everything on exit."""
    from collector.inventory import parse_inventory
    from devices.store import import_registry
    from ioc.db import connect

    edge = Edge(mqtt_url, say, **options)
    try:
        with connect(db_url) as conn:
            import_registry(conn, parse_inventory(edge.inventory, "demo-edge").registry())
            conn.commit()
        edge.start()
        f = edge.camera_faults
        say(f"edge: collector {COLLECTOR_ID} watches {edge.device_count} devices over "
            f"ICMP/SNMP/ISAPI/vendor JSON; camera video loss at +{f['video_loss_at_s']:.0f} s, "
            f"NVR disk failure at +{f['disk_at_s']:.0f} s, outage at +{edge.outage[0]:.0f} s "
            f"for {edge.outage[1]:.0f} s")  # fmt: skip
        yield edge
    finally:
        edge.stop()
