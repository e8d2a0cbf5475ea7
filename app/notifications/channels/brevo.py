"""Brevo's transactional HTTP APIs for email, SMS and WhatsApp."""

from __future__ import annotations

from typing import Any

import httpx

from app.notifications.channels import Backend, DeliveryError, Message
from app.notifications.channels.breaker import ProviderBreaker

PATHS = {
    "email": "/smtp/email",
    "sms": "/transactionalSMS/send",  # /transactionalSMS/sms is deprecated
    "whatsapp": "/whatsapp/sendMessage",
}


def _parse_sender(sender: str) -> dict[str, str]:
    from email.utils import parseaddr

    name, address = parseaddr(sender)
    return {"name": name or "ShopSphere", "email": address}


class BrevoBackend(Backend):
    name = "brevo"

    def __init__(
        self,
        channel: str,
        api_key: str,
        base_url: str,
        *,
        sender: str,
        sms_sender: str,
        whatsapp_sender: str,
        timeout: float = 10.0,
    ) -> None:
        self.channel = channel
        self.api_key, self.base_url = api_key, base_url.rstrip("/")
        self.sender, self.sms_sender, self.whatsapp_sender = sender, sms_sender, whatsapp_sender
        self.timeout = timeout
        self.breaker = ProviderBreaker(f"brevo-{channel}")

    @classmethod
    def from_config(cls, cfg: Any, channel: str) -> BrevoBackend:
        if not cfg["BREVO_API_KEY"]:
            raise ValueError("BREVO_API_KEY is required for the brevo backend")
        if channel == "whatsapp" and not cfg["WHATSAPP_SENDER"]:
            raise ValueError("WHATSAPP_SENDER (the business number) is required for WhatsApp")
        return cls(
            channel,
            cfg["BREVO_API_KEY"],
            cfg["BREVO_API_BASE"],
            sender=cfg["MAIL_FROM"],
            sms_sender=cfg["SMS_SENDER"],
            whatsapp_sender=cfg["WHATSAPP_SENDER"],
            timeout=cfg["NOTIFY_HTTP_TIMEOUT"],
        )

    def payload(self, message: Message) -> dict[str, Any]:
        if self.channel == "email":
            return {
                "sender": _parse_sender(self.sender),
                "to": [{"email": message.to}],
                "subject": message.subject,
                "htmlContent": message.html,
                "textContent": message.text,
                "headers": {
                    **message.headers,
                    "X-Notification-ID": str(message.notification_id),
                    # Brevo echoes this one header in its webhook events.
                    "X-Mailin-custom": f"notification:{message.notification_id}",
                },
            }
        if self.channel == "sms":
            return {
                "sender": self.sms_sender,
                "recipient": message.to.lstrip("+"),
                "content": message.text,
                "type": "transactional",
            }
        return {
            "senderNumber": self.whatsapp_sender,
            "contactNumbers": [message.to.lstrip("+")],
            "text": message.text,
        }

    def send(self, message: Message) -> str:
        payload = self.payload(message)
        return self.breaker.call(lambda: self._post(payload))

    def _post(self, payload: dict[str, Any]) -> str:
        try:
            response = httpx.post(
                self.base_url + PATHS[self.channel],
                json=payload,
                timeout=self.timeout,
                headers={"api-key": self.api_key, "accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"Brevo unreachable: {type(exc).__name__}", transient=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"Brevo {response.status_code}", transient=True)
        if response.status_code >= 400:
            raise DeliveryError(
                f"Brevo refused the message ({response.status_code})", transient=False
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        return str(body.get("messageId") or body.get("reference") or body.get("messageIds") or "")
