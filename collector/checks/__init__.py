"""The check family: one module per protocol, each a :class:`collector.checks.base.Check`."""
