"""SNMP devices (switches, routers, UPSes, PDUs): the check (``check``) and the declarative
device profiles it reads (``profile``, one YAML file per profile beside it)."""

from collector.checks.snmp.check import SnmpCheck, SnmpParams

__all__ = ["SnmpCheck", "SnmpParams"]
