"""A ``zalo`` receiver in the routes file: who receives, buttons, and what to do outside 48 h."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.durations import Duration

# What a ZNS template parameter may be filled with (from the outgoing message).
ZnsValue = Literal["title", "text", "commune", "alerts", "time", "link", "alert_id"]


class ZnsConfig(BaseModel):
    """A template notification (ZNS) for when the user is outside the 48-hour window.

    ``params`` maps the template's parameter names (as approved by Zalo) to message fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    template_id: str = Field(pattern=r"^[0-9]{1,20}$")
    phone: str = Field(pattern=r"^84[0-9]{8,11}$")
    params: dict[str, ZnsValue] = Field(min_length=1)


class ZaloConfig(BaseModel):
    """Send to one Zalo user of the OA: a console ``user`` (their linked account) or a raw
    ``user_id``; outside the window through ``zns``, else through the ``fallback`` receiver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str | None = Field(None, min_length=1)
    user_id: str | None = Field(None, pattern=r"^[0-9]{1,30}$")
    buttons: bool = True
    zns: ZnsConfig | None = None
    fallback: str | None = None
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _one_recipient(self) -> ZaloConfig:
        if (self.user is None) == (self.user_id is None):
            raise ValueError("zalo needs exactly one of user (a console user) or user_id")
        return self
