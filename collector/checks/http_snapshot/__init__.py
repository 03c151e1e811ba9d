"""Any camera with a snapshot URL: healthy when it answers a JPEG (``check``)."""

from collector.checks.http_snapshot.check import SnapshotCheck, SnapshotParams

__all__ = ["SnapshotCheck", "SnapshotParams"]
