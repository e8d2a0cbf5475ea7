"""Background work: the queue (tasks/queue.py) that every domain's tasks register with.

Tasks live next to their domain, in ``app/<domain>/tasks.py``: thin wrappers that take ids,
run in an app context and open their units of work, and job runners (an import in chunks, a
refund sent to the provider) whose steps commit one by one around network calls. Huey is
at-most-once, so anything that must happen lives in a database row a periodic sweeper
re-enqueues.

``huey_consumer tasks.huey`` loads the queue with every task module imported. The import is
lazy (PEP 562 ``__getattr__``) so that a domain module importing ``tasks.queue`` does not
import every other domain while it is itself half-loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

from tasks.queue import shop_task

__all__ = ["TASK_MODULES", "registered", "shop_task"]

TASK_MODULES = (
    "app.api.tasks",
    "app.cart.tasks",
    "app.catalog.tasks",
    "app.checkout.tasks",
    "app.inventory.tasks",
    "app.notifications.tasks",
    "app.orders.tasks",
    "app.payments.tasks",
    "app.reviews.tasks",
)


def registered() -> Any:
    """The queue, once every domain's tasks have registered with it."""
    from tasks.queue import huey

    for name in TASK_MODULES:
        importlib.import_module(name)
    return huey


def __getattr__(name: str) -> Any:
    if name == "huey":
        return registered()
    raise AttributeError(f"module 'tasks' has no attribute {name!r}")
