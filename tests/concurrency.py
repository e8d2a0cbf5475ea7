"""Run one callable from many threads at the same instant, each in its own app context."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_at_once(app, workers: int, fn: Callable[[int], Any]) -> list[Any]:
    """Returns each worker's result, or the exception it raised, in worker order."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def work(index: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[index] = fn(index)
            except BaseException as exc:  # noqa: BLE001 - returned to the test
                results[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
