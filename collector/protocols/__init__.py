"""Protocol clients the checks speak: they know devices' wire formats, nothing of checks.

``http`` (bounded digest HTTP), ``soap`` (ONVIF SOAP over HTTP, WS-Security digest), ``rtsp``
(RTSP DESCRIBE/SETUP/PLAY and RTP counting), ``multipart`` (``multipart/x-mixed-replace``
event streams), ``xmlsafe`` (untrusted XML), ``icmp`` (echo over a raw or datagram socket).
Each raises its own error type from :mod:`collector.protocols.errors`; a check turns it into
its :class:`collector.checks.base.CheckError` (same reason, same kind).
"""
