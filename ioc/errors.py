"""Exceptions of the shared core.

IocError
├── ConfigError          a setting or config file is wrong
├── DatabaseUnavailable  PostgreSQL cannot be reached (with what to do)
└── SchemaNotCurrent     migrations are not applied
"""


class IocError(Exception):
    """Base of every error the ``ioc`` command reports without a traceback."""


class ConfigError(IocError):
    """A setting or configuration file is invalid."""


class DatabaseUnavailable(IocError):
    """PostgreSQL cannot be reached."""


class SchemaNotCurrent(IocError):
    """The database schema is behind the code: run ``ioc migrate``."""
