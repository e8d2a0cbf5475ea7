"""The production recipe runs: nginx (Debian's) in front of two gunicorn instances and a Huey
consumer on PostgreSQL and Redis, and a shopper's checkout through it passes
(scripts/production-recipe.sh; what it checks is in scripts/recipe_checkout.py)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_a_checkout_through_nginx_and_two_app_instances_passes():
    proxy, app1, app2 = free_ports(3)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "RECIPE_PORT": str(proxy),
        "RECIPE_APP_PORTS": f"{app1} {app2}",
        "BIN": str(ROOT / ".venv/bin"),
    }
    result = subprocess.run(
        [str(ROOT / "scripts/production-recipe.sh")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-4000:]
    assert "The checkout through nginx passed." in result.stdout
    for promise in (
        "nginx serves fingerprinted static files with a year's immutable caching",
        "the Huey consumer sent the confirmation email",
        "one shop_app_info series with several workers (multiprocess mode)",
        "both app instances served",
    ):
        assert f"ok  {promise}" in result.stdout, promise
