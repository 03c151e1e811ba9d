"""E-mail channel over SMTP (STARTTLS and login optional); subject and body in UTF-8."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

from pydantic import BaseModel, ConfigDict, Field

from alerts.notify.channels.base import Channel, Context, DeliveryError, Outgoing
from ioc.durations import Duration


class EmailConfig(BaseModel):
    """Send e-mail over SMTP; server settings default to ``IOC_SMTP_*``."""

    to: list[str] = Field(min_length=1)
    sender: str | None = Field(None, alias="from")
    host: str | None = None
    port: int | None = None
    starttls: bool | None = None
    user: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=10)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def build(self, ctx: Context) -> EmailChannel:
        """An e-mail channel; what the block leaves out comes from ``IOC_SMTP_*``."""
        s = ctx.settings.smtp
        if self.password_env:
            password: str | None = ctx.env("email.password_env", self.password_env)
        elif s.password is not None:
            password = s.password.get_secret_value()
        else:
            password = None
        server = SmtpServer(
            host=self.host or s.host,
            port=self.port or s.port,
            starttls=s.starttls if self.starttls is None else self.starttls,
            user=self.user or s.user,
            password=password,
            timeout=self.timeout.total_seconds(),
        )
        return EmailChannel(server, self.sender or s.sender, self.to)


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect."""

    host: str
    port: int
    starttls: bool
    user: str | None
    password: str | None
    timeout: float


class EmailChannel(Channel):
    """One e-mail per note to a fixed list of recipients."""

    def __init__(self, server: SmtpServer, sender: str, to: list[str]) -> None:
        self.server = server
        self.sender = sender
        self.to = to

    def build(self, note: Outgoing) -> MIMEText:
        """The message, subject RFC 2047-encoded by ``Header``.

        Not ``EmailMessage``: its header folder drops the space between two encoded words
        (``Mất kết`` arrives as ``Mấtkết``); ``Header`` keeps spaces inside the encoded words.
        """
        msg = MIMEText(note.rendered.text, "plain", "utf-8")
        msg["Subject"] = Header(note.rendered.title, "utf-8")  # type: ignore[assignment]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(idstring=f"ioc-{note.id}")
        msg["X-IOC-Notification-Id"] = str(note.id)
        msg["X-IOC-Dedup-Key"] = note.dedup_key
        return msg

    def send(self, note: Outgoing) -> None:
        """Connect, optionally STARTTLS and log in, and send."""
        msg = self.build(note)
        s = self.server
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())  # verifies the cert
                if s.user:
                    smtp.login(s.user, s.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"smtp: recipients refused: {_codes(exc.recipients)}",
                retryable=_soft(exc.recipients),
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"smtp: authentication failed: {exc.smtp_code}", retryable=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reason = f"smtp: {exc.smtp_code} {exc.smtp_error!r}"
            raise DeliveryError(reason, retryable=400 <= exc.smtp_code < 500) from exc
        except (ssl.SSLCertVerificationError, smtplib.SMTPNotSupportedError) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp: {type(exc).__name__}: {exc}", retryable=True) from exc
        if refused:
            # Some recipients accepted: resending would duplicate for them, so record only.
            raise DeliveryError(
                f"smtp: delivered, but refused for {_codes(refused)}", retryable=False
            )


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{addr} ({code})" for addr, (code, _) in recipients.items())


def _soft(recipients: dict[str, tuple[int, bytes]]) -> bool:
    """Only temporary (4xx) refusals are worth a retry."""
    return all(400 <= code < 500 for code, _ in recipients.values())
