"""Notifications: routes, grouping, the durable outbox, channels, escalation and templates.

The engine (leader) calls ``Notifier.tick(now)`` after each evaluation and
``Notifier.deliver(now)`` to send due outbox rows; see ``alerts.notify.service``.
"""
