"""The rtsp check against GStreamer's real RTSP server (and against things that are not one)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from collector.checks.rtsp import RtspCheck, RtspParams
from collector.protocols.rtsp import RtspError, video_control
from ioc.ports import free_port

from .conftest import USER, RtspServer, run, secrets, target


def rtsp(port: int, password_env: str = "CAM_PASS", **params: object) -> RtspCheck:
    p = RtspParams(port=port, username=USER, password_env=password_env, timeout_s=2.0, **params)
    return RtspCheck(target(), p, secrets)


def test_describe_and_rtp_sample(rtsp_server: RtspServer) -> None:
    c = rtsp(rtsp_server.port, sample_every_s=0.001, sample_s=2.0)
    sample = run(c.poll())
    assert sample.metrics["stream_up"] is True
    assert sample.metrics["stream_state"] == "up"
    # Measured, not configured: the server sends 10 fps of JPEG over RTP.
    assert 7.0 <= sample.metrics["fps"] <= 12.0, sample.meta["rtp"]
    assert sample.metrics["bitrate_kbps"] > 20
    assert sample.meta["rtp"]["packets"] >= sample.meta["rtp"]["frames"] > 10


def test_describe_only_between_samples(rtsp_server: RtspServer) -> None:
    c = rtsp(rtsp_server.port, sample_every_s=3600)
    c._next_sample = float("inf")  # not due yet
    sample = run(c.poll())
    assert sample.metrics == {"stream_up": True, "stream_state": "up"}


def test_samples_are_staggered_per_device() -> None:
    p = RtspParams(port=554, sample_every_s=600)
    starts = {RtspCheck(target(device=f"cam-{i:02d}"), p, secrets)._next_sample for i in range(20)}
    spread = max(starts) - min(starts)
    assert spread > 300  # 20 cameras spread over most of the 10-minute period


def test_wrong_password_is_its_own_state(rtsp_server: RtspServer) -> None:
    c = rtsp(rtsp_server.port, password_env="BAD_PASS")

    async def twice():  # type: ignore[no-untyped-def]
        return await c.poll(), await c.poll()

    first, second = run(twice())
    assert first.metrics["stream_state"] == "unauthorized"
    assert first.metrics["stream_up"] is True  # the service answers: not a dead stream
    (ev,) = first.events
    assert ev.type == "stream_auth_failed" and "401" in ev.data["reason"]
    assert second.events == []  # reported on the change only


def test_no_credentials_against_protected_stream(rtsp_server: RtspServer) -> None:
    c = RtspCheck(target(), RtspParams(port=rtsp_server.port, timeout_s=2.0), secrets)
    assert run(c.poll()).metrics["stream_state"] == "unauthorized"


def test_unknown_path_is_down(rtsp_server: RtspServer) -> None:
    sample = run(rtsp(rtsp_server.port, path="/Streaming/Channels/999").poll())
    assert sample.metrics["stream_up"] is False
    assert sample.metrics["fps"] == 0.0
    assert "DESCRIBE" in sample.meta["stream_reason"]


def test_refused_is_down() -> None:
    sample = run(rtsp(free_port()).poll())
    assert sample.metrics == {"stream_up": False, "stream_state": "down", "fps": 0.0}
    assert "refused" in sample.meta["stream_reason"]


@pytest.fixture
def tcp_server() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server whose behaviour the test sets: answers with the bytes in the list."""
    answers: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                for a in answers:
                    if a == b"<hang>":
                        stop.wait(5)
                    else:
                        conn.sendall(a)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], answers
    stop.set()
    t.join(5)
    srv.close()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "not an RTSP response"),
        (b"<hang>", "no answer within"),
        (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n", "connection dropped"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", "too large"),
    ],
    ids=["http-server", "silent", "half-answer", "huge"],
)
def test_not_an_rtsp_server(
    tcp_server: tuple[int, list[bytes]], answer: bytes, reason: str
) -> None:
    port, answers = tcp_server
    answers.append(answer)
    sample = run(rtsp(port).poll())
    assert sample.metrics["stream_up"] is False
    assert reason in sample.meta["stream_reason"]


def test_sdp_control_urls() -> None:
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\na=control:*\r\nm=audio 0 RTP/AVP 0\r\n"
        b"a=control:trackID=2\r\nm=video 0 RTP/AVP 96\r\na=control:trackID=1\r\n"
    )
    assert video_control(sdp, "rtsp://h/live/") == "rtsp://h/live/trackID=1"
    abs_sdp = b"v=0\r\nm=video 0 RTP/AVP 96\r\na=control:rtsp://h:554/x/track1\r\n"
    assert video_control(abs_sdp, "rtsp://other/") == "rtsp://h:554/x/track1"
    with pytest.raises(RtspError, match="video"):
        video_control(b"v=0\r\nm=audio 0 RTP/AVP 0\r\na=control:a\r\n", "rtsp://h/")


def test_poll_is_bounded_even_when_sampling(rtsp_server: RtspServer) -> None:
    c = rtsp(rtsp_server.port, sample_every_s=0.001, sample_s=1.0)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await c.poll()
        return loop.time() - t0

    assert run(timed()) < 4.0


def test_interleaved_frames_split_anywhere() -> None:
    from collector.protocols.rtsp import RtpStats, _walk_frames

    def rtp(marker: bool, ts: int, size: int = 100) -> bytes:
        header = bytes([0x80, 0x9A if marker else 0x1A, 0, 1]) + ts.to_bytes(4, "big") + bytes(4)
        payload = header + b"x" * size
        return b"$\x00" + len(payload).to_bytes(2, "big") + payload

    rtcp = b"$\x01\x00\x08" + bytes(8)
    reply = b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n\r\n"
    data = rtp(False, 1) + rtp(True, 1) + rtcp + reply + rtp(True, 2) + rtp(True, 3)
    for chunk in (1, 5, 33, len(data)):
        stats, buf = RtpStats(), bytearray()
        for i in range(0, len(data), chunk):
            buf += data[i : i + chunk]
            del buf[: _walk_frames(buf, stats)]
        assert (stats.packets, stats.frames, stats.bytes) == (4, 3, 400), chunk
        assert buf == b""
