"""Email over SMTP (plain, STARTTLS or implicit TLS), multipart text + HTML."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from app.notifications.channels import Backend, DeliveryError, Message
from app.notifications.channels.breaker import ProviderBreaker


def sender_domain(sender: str) -> str:
    """``"Shop <hello@shop.example>"`` → ``"shop.example"``."""
    from email.utils import parseaddr

    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "localhost"


class SmtpBackend(Backend):
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        sender: str,
        domain: str = "",
        timeout: float = 10.0,
    ) -> None:
        if security not in {"none", "starttls", "tls"}:
            raise ValueError("SMTP_SECURITY must be none, starttls or tls")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.sender, self.timeout = sender, timeout
        # Message-IDs on the shop's own domain (the sender's), as RFC 5322 asks: a domain
        # the shop controls, so replies and bounce reports can be matched to it.
        self.domain = domain or sender_domain(sender)
        self.breaker = ProviderBreaker("smtp")

    @classmethod
    def from_config(cls, cfg: Any) -> SmtpBackend:
        return cls(
            cfg["SMTP_HOST"],
            cfg["SMTP_PORT"],
            security=cfg["SMTP_SECURITY"],
            username=cfg["SMTP_USERNAME"],
            password=cfg["SMTP_PASSWORD"],
            sender=cfg["MAIL_FROM"],
            timeout=cfg["NOTIFY_HTTP_TIMEOUT"],
        )

    def build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False)
        # Stable per notification, so a duplicate delivery is recognisable as one.
        email["Message-ID"] = f"<notification-{message.notification_id}@{self.domain}>"
        for key, value in message.headers.items():
            email[key] = value
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def send(self, message: Message) -> str:
        email = self.build(message)
        return self.breaker.call(lambda: self._send(email))

    def _send(self, email: EmailMessage) -> str:
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("recipient refused by the mail server", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            raise DeliveryError(f"SMTP {exc.smtp_code}", transient=transient) from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP unavailable: {type(exc).__name__}", transient=True) from exc
        if refused:
            raise DeliveryError("recipient refused by the mail server", transient=False)
        return str(email["Message-ID"])
