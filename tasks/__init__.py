"""Background work. ``huey`` is the queue; run a consumer with ``make worker``.

Tasks are thin: they receive ids, run inside an app context and their own unit of
work, and call the same services as the web. Huey is at-most-once, so anything that
must happen lives in a database row that a periodic sweeper re-enqueues.
"""

# Task modules register themselves with the queue on import (the consumer imports `tasks`).
from tasks import api, cart, imports, notifications, payments  # noqa: E402,F401
from tasks.queue import huey, shop_task

__all__ = ["huey", "shop_task"]
