"""The audit log: who did what to which object, and when (written by ``ioc.actions.audit``)."""

from __future__ import annotations

from ioc.actions import audit as record

__all__ = ["record"]
