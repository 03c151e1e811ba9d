"""Notification channels, one module per integration, all built on ``base.Channel``."""
