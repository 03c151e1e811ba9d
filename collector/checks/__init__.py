"""The check family: each module a :class:`collector.checks.base.Check` of one kind.

:mod:`collector.registry` lists the kinds (one line per kind).
"""
