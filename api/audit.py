"""The audit log (the one implementation lives in the core: ``ioc.audit``)."""

from __future__ import annotations

from ioc.audit import INSERT_AUDIT as INSERT_AUDIT
from ioc.audit import record as record
