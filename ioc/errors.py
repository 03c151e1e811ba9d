"""Exceptions of the shared core.

IocError                 reported by the ``ioc`` command line in one place (ioc/cli.py)
├── ConfigError          a setting or config file is wrong
├── DatabaseUnavailable  PostgreSQL cannot be reached (with what to do)
├── SchemaNotCurrent     migrations are not applied
├── MigrationFailed      a migration failed and was rolled back (ioc/migrate.py)
├── ActionRefused        an operator action's input is refused (ioc/ops/actions.py)
├── RegistryError        a registry file is invalid (devices/registry.py; also a ValueError)
├── CredentialError      a credential request names unknown devices (devices/credentials.py)
├── UserError            an API user cannot be created/changed (api/security.py; ValueError)
└── ScenarioError        a scenario file is invalid (simulators/scenario.py; ValueError)
"""


class IocError(Exception):
    """Base of every error the ``ioc`` command reports without a traceback."""


class ConfigError(IocError):
    """A setting or configuration file is invalid."""


class DatabaseUnavailable(IocError):
    """PostgreSQL cannot be reached."""


class SchemaNotCurrent(IocError):
    """The database schema is behind the code: run ``ioc migrate``."""
