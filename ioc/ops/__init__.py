"""The alert-operations domain, shared by ``alerts`` and ``api`` (and ``storage``'s matchers).

- ``access``: roles and commune scopes (``Principal``).
- ``matchers``: the one label matcher type (silences, notification routes, retention).
- ``silences``: what a silence is (``SilenceSpec``, recurrence).
- ``actions``: operator actions, the one owner (acknowledge, assign, silences).
- ``history``: the single writer of ``alert_history`` and of ``audit_log``.

It lives in the core because both ``alerts`` and ``api`` use it and they never import each
other (core <- devices <- ingest | alerts | api).
"""
