"""The audit log: who did what to which object, and when (written by ``ioc.ops.history.audit``)."""

from __future__ import annotations

from ioc.ops.history import audit as record

__all__ = ["record"]
