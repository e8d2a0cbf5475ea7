"""Development backend: records the delivery on the notification row only.

The development outbox page re-renders the message from its template and variables, so
nothing rendered is ever stored.
"""

from __future__ import annotations

import logging

from app.notifications.channels import Backend, Message

log = logging.getLogger(__name__)


class OutboxBackend(Backend):
    name = "outbox"

    def send(self, message: Message) -> str:
        log.info(
            "outbox: %s to %s (notification %s)",
            message.channel,
            message.to,
            message.notification_id,
        )
        return f"outbox-{message.notification_id}"
