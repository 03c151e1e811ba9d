"""The SMTP server of the e-mail channel (``IOC_SMTP_*``), built by the entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ioc.settings import AreaSettings, env_config


class SmtpSettings(AreaSettings):
    """The server e-mail receivers use unless their block names another."""

    model_config = env_config("IOC_SMTP_")

    host: str = Field("localhost", description="SMTP server host.")
    port: int = Field(25, description="SMTP server port.")
    starttls: bool = Field(False, description="Use STARTTLS on the SMTP connection.")
    user: str | None = Field(None, description="SMTP login user (none: no login).")
    password: SecretStr | None = Field(None, description="SMTP login password.")
    sender: str = Field(
        "ioc@localhost",
        validation_alias="IOC_SMTP_FROM",
        description="Default sender address of e-mails.",
    )
