"""A domain's services and its tasks import each other (services enqueue, tasks run the
services' steps). That only works while each side imports the other as a module; this test
imports every such module first, in a fresh interpreter, so a name import that breaks one
import order fails here and not in a consumer at start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

SCRIPT = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "app" or m.startswith(("app.", "tasks"))]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
"""


def _modules_in_a_task_cycle() -> list[str]:
    """The task modules, the modules that import one, and the modules importing those."""
    texts = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts): p.read_text()
        for p in sorted((ROOT / "app").rglob("*.py"))
    }
    cycle = [n for n, t in texts.items() if n.endswith(".tasks") or "import tasks" in t]
    users = [
        n
        for n, t in texts.items()
        if n not in cycle and any(f"from {c} import" in t for c in cycle)
    ]
    return cycle + users


def test_each_module_that_shares_a_cycle_with_tasks_imports_first():
    modules = _modules_in_a_task_cycle()
    assert len(modules) >= 15, modules  # the tasks, the services that enqueue them, their users
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""
