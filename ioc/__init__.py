"""Shared plumbing of the commune IOC backend: settings, database, migrations, logging, CLI."""

__version__ = "0.1.0"
