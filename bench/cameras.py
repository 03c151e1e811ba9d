"""Camera checks on one core: 100 cameras + 3 NVRs, and event latency on the alert stream.

The device side (103 ISAPI fakes with open alertStreams and 1 s heartbeats, one GStreamer RTSP
server) runs in other processes; this process runs only the collector's checks and counts its
own CPU time. Measured per operation, then combined for the issue's schedule (ISAPI poll every
60 s, DESCRIBE every 60 s, a 3 s RTP sample per camera every 10 min, 103 alert streams always
open)::

    python bench/cameras.py                # a few minutes on a busy 2-core machine
    python bench/cameras.py --rounds 3 --json

The RTP sample is measured on the test server's MJPEG stream and scaled by packets to a
4 Mbit/s main stream (~360 packets/s): its cost is per packet, not per pixel (nothing is decoded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collector.checks.base import Sample, Target  # noqa: E402
from collector.checks.hikvision import HikvisionCheck, HikvisionParams  # noqa: E402
from collector.checks.rtsp import RtspCheck, RtspParams  # noqa: E402
from simulators.vendors.hikvision import FakeHikvision  # noqa: E402

GST = REPO / "tests" / "collector" / "cameras" / "gst_rtsp_server.py"
USER, PASSWORD = "monitor", "bench-pass"
PKT_PER_S_4MBIT = 4_000_000 / 8 / 1400


def serve_fakes(cameras: int, nvrs: int) -> None:
    """Child process: the devices. Prints their ports, runs until stdin closes."""
    fakes = [FakeHikvision(USER, PASSWORD, heartbeat_s=1.0).start() for _ in range(cameras)]
    fakes += [FakeHikvision(USER, PASSWORD, nvr=True, heartbeat_s=1.0).start() for _ in range(nvrs)]
    print(json.dumps([f.port for f in fakes]), flush=True)
    sys.stdin.read()


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu() -> float:
    return time.process_time()


def hik(i: int, port: int, kind: str) -> HikvisionCheck:
    return HikvisionCheck(
        Target(f"{kind}-{i:03d}", kind, "99999", "127.0.0.1", 60),
        HikvisionParams(port=port, username=USER, password_env="P"),
        lambda n: PASSWORD,
    )


async def isapi_polls(checks: list[HikvisionCheck], rounds: int) -> float:
    """CPU seconds per ISAPI poll (all devices concurrently, ``rounds`` times)."""
    await asyncio.gather(*(c.poll() for c in checks))  # warm up: digest challenge, pool
    t0 = cpu()
    for _ in range(rounds):
        await asyncio.gather(*(c.poll() for c in checks))
    return (cpu() - t0) / (rounds * len(checks))


async def alert_streams(checks: list[HikvisionCheck], seconds: float) -> float:
    """CPU fraction of one core for keeping every alert stream open (1 s heartbeats)."""
    got: list[Sample] = []
    tasks = [asyncio.create_task(c.stream(got.append)) for c in checks]
    await asyncio.sleep(3)  # all open
    t0, w0 = cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    used = (cpu() - t0) / (time.monotonic() - w0)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return used


async def describes(port: int, n: int, rounds: int) -> float:
    """CPU seconds per OPTIONS+DESCRIBE (new connection each, as the check does)."""
    checks = [
        RtspCheck(
            Target(f"cam-{i:03d}", "camera", "99999", "127.0.0.1", 60),
            RtspParams(port=port, path="/live", sample_every_s=0),
            lambda n: "",
        )
        for i in range(n)
    ]
    gate = asyncio.Semaphore(10)  # the real schedule spreads them over the minute anyway

    async def one(c: RtspCheck) -> bool:
        async with gate:
            return bool((await c.poll()).metrics["stream_up"])

    await one(checks[0])  # the server builds its media on the first DESCRIBE
    t0 = cpu()
    ups = 0
    for _ in range(rounds):
        ups += sum(await asyncio.gather(*(one(c) for c in checks)))
    if ups < rounds * n:
        note(f"DESCRIBE: {rounds * n - ups} of {rounds * n} not up")
    return (cpu() - t0) / (rounds * n)


async def rtp_sample(port: int, seconds: float, overhead: float) -> tuple[float, dict[str, Any]]:
    """CPU seconds per RTP packet of a sample (setup ``overhead`` removed), and its figures."""
    c = RtspCheck(
        Target("cam-rtp", "camera", "99999", "127.0.0.1", 60),
        RtspParams(port=port, path="/live", sample_every_s=0.001, sample_s=seconds),
        lambda n: "",
    )
    t0 = cpu()
    s = await c.poll()
    used = max(cpu() - t0 - overhead, 0.0)
    rtp = s.meta["rtp"]
    return used / max(rtp["packets"], 1), {
        **rtp,
        "fps": s.metrics["fps"],
        "bitrate_kbps": s.metrics["bitrate_kbps"],
    }


async def event_latency(n: int) -> list[float]:
    """Seconds from the device writing an alert to the check emitting our event."""
    fake = FakeHikvision(USER, PASSWORD, nvr=True, heartbeat_s=1.0).start()
    check = hik(0, fake.port, "nvr")
    arrivals: dict[str, float] = {}

    def emit(sample: Sample) -> None:
        for ev in sample.events:
            if ev.type in ("tamper", "tamper_cleared"):
                arrivals[f"{ev.data['channel']}/{ev.data['state']}"] = time.perf_counter()

    task = asyncio.create_task(check.stream(emit))
    while fake.stream_count() == 0:
        await asyncio.sleep(0.01)
    lat = []
    for i in range(n):
        ch, state = str(i % 32 + 1), "active" if (i // 32) % 2 == 0 else "inactive"
        key = f"{ch}/{state}"
        arrivals.pop(key, None)
        sent = time.perf_counter()
        fake.alert("shelteralarm", state, ch)
        async with asyncio.timeout(10):
            while key not in arrivals:
                await asyncio.sleep(0.001)
        lat.append(arrivals[key] - sent)
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await check.close()
    fake.stop()
    return lat


def start_rtsp() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(GST), "0", "--fps", "25"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit("GStreamer RTSP server did not start (see tests/collector/cameras)")
    return proc, int(line.split()[1])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fakes = subprocess.Popen(
        [sys.executable, __file__, "--serve-fakes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fakes.stdout is not None
    ports = json.loads(fakes.stdout.readline())
    rtsp, rtsp_port = start_rtsp()
    try:
        cams = [hik(i, p, "camera") for i, p in enumerate(ports[: args.cameras])]
        nvrs = [hik(i, p, "nvr") for i, p in enumerate(ports[args.cameras :])]
        note("ISAPI polls")
        per_cam = await isapi_polls(cams, args.rounds)
        per_nvr = await isapi_polls(nvrs, args.rounds * 5)
        note("alert streams")
        streams = await alert_streams(cams + nvrs, args.stream_seconds)
        for c in cams + nvrs:
            await c.close()
        note("DESCRIBE")
        per_describe = await describes(rtsp_port, args.cameras, args.rounds)
        note("RTP sample")
        per_packet, rtp = await rtp_sample(rtsp_port, 10.0, 2 * per_describe)
        note("event latency")
        lat = await event_latency(args.events)
    finally:
        rtsp.terminate()
        assert fakes.stdin is not None
        fakes.stdin.close()
        fakes.wait(10)
    per_rtp_4mbit = per_packet * PKT_PER_S_4MBIT * 3.0 + 2 * per_describe
    load = {
        "isapi_polls": (args.cameras * per_cam + args.nvrs * per_nvr) / 60,
        "describes": args.cameras * per_describe / 60,
        "rtp_samples": args.cameras * per_rtp_4mbit / 600,
        "alert_streams": streams,
    }
    lat.sort()
    return {
        "cpu_ms_per_camera_isapi_poll": round(per_cam * 1000, 2),
        "cpu_ms_per_nvr_isapi_poll": round(per_nvr * 1000, 2),
        "cpu_ms_per_describe": round(per_describe * 1000, 2),
        "cpu_us_per_rtp_packet": round(per_packet * 1e6, 1),
        "rtp_sample_test_stream": rtp,
        "cpu_ms_per_3s_rtp_sample_at_4mbit": round(per_rtp_4mbit * 1000, 1),
        "alert_streams_open": args.cameras + args.nvrs,
        "cpu_pct_by_part": {k: round(v * 100, 2) for k, v in load.items()},
        "cpu_pct_total_one_core": round(sum(load.values()) * 100, 2),
        "event_latency_ms_p50": round(statistics.median(lat) * 1000, 2),
        "event_latency_ms_p95": round(lat[int(len(lat) * 0.95) - 1] * 1000, 2),
        "event_latency_ms_max": round(lat[-1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--nvrs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stream-seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        serve_fakes(args.cameras, args.nvrs)
        return 0
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
