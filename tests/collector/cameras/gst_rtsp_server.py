"""A real RTSP server (GStreamer's gst-rtsp-server) for the stream check's tests.

Run with the *system* python3 (python3-gi is a Debian package, not in the venv):
    python3 gst_rtsp_server.py PORT [--user U --password P] [--fps N]
Serves /Streaming/Channels/101 (and /live): videotestsrc -> jpegenc -> rtpjpegpay, N fps.
Prints "READY PORT" once listening. Debian packages: gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-base, gstreamer1.0-plugins-good, python3-gi.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fps", type=int, default=10)
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))  # "0": any free port
    launch = (
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,"
        f"framerate={args.fps}/1 ! jpegenc quality=50 ! rtpjpegpay name=pay0 pt=26 )"
    )
    mounts = server.get_mount_points()
    for path in ("/Streaming/Channels/101", "/live"):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        if args.user:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("viewer", "media.factory.access", True)
            perms.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(perms)
        mounts.add_factory(path, factory)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
    if server.attach(None) == 0:
        print("FAILED to bind", flush=True)
        sys.exit(1)
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
