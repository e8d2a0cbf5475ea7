"""Rules of the code's shape that a review would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).parents[2] / "app"
STOCK_COLUMNS = {"stock_on_hand", "reserved"}
# The demo loader writes its generated rows (variants with stock, their ledger lines) in bulk.
STOCK_EXEMPT = {APP / "catalog" / "seed.py"}


def _stock_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "StockMovement":
                found.append(f"{where} builds a StockMovement")
            for keyword in node.keywords:
                zero = isinstance(keyword.value, ast.Constant) and keyword.value.value == 0
                if keyword.arg in STOCK_COLUMNS and not zero:
                    found.append(f"{where} writes {keyword.arg}")
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in STOCK_COLUMNS:
                found.append(f"{where} assigns .{target.attr}")
    return found


def test_only_the_inventory_module_writes_stock():
    """Stock on hand, reservations and the stock ledger change in app/inventory only, so the
    guards, the lock order and the ledger cannot be bypassed by a new caller."""
    writes = []
    for path in sorted(APP.rglob("*.py")):
        if path.is_relative_to(APP / "inventory") or path in STOCK_EXEMPT:
            continue
        writes += _stock_writes(path)
    assert writes == []


def test_the_check_sees_a_stock_write(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(v, db):\n"
        "    v.reserved = 3\n"
        "    v.stock_on_hand += 1\n"
        "    db.add(StockMovement(variant_id=1))\n"
        "    sa.update(Variant).values(stock_on_hand=Variant.stock_on_hand - 1)\n"
    )
    found = _stock_writes(sample)
    assert len(found) == 4, found


TRANSACTION_CONTROL = {
    "commit",
    "rollback",
    "begin_nested",
    "commit_unit_of_work",
    "rollback_unit_of_work",
    "commit_point",
}
ENTRY_DECORATORS = ("@bp.", "@operation(", "@huey.", "@shop_", "@periodic", ".route(")


def _transaction_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in TRANSACTION_CONTROL:
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} {name}()")
    return found


def test_no_view_api_handler_or_task_controls_the_transaction():
    """One transaction per entry point, begun and ended at the edge (app.ShopFlask for
    requests, the task wrapper for Huey); a service that must commit part-way names a commit
    point. A module that registers routes or tasks never commits, rolls back or opens a
    savepoint itself."""
    modules = [*APP.rglob("*.py"), *(APP.parent / "tasks").glob("*.py")]
    entry_points = [p for p in modules if any(d in p.read_text() for d in ENTRY_DECORATORS)]
    assert len(entry_points) > 20  # the check looks at the real entry points
    assert {p.name for p in entry_points} >= {"tasks.py", "views.py"}
    found = [call for path in entry_points for call in _transaction_calls(path)]
    assert found == []


# A product made on the staff form is audited where the form is handled: create_product is
# shared with the CSV import, which is audited once per job, not per product.
AUDITED_IN_VIEW = {"app/admin/catalog/products.py": 1}


def test_audit_rows_are_written_by_the_services_that_act():
    """The service that performs an action writes its audit row, so every door (website,
    API, tasks) records it the same way and no entry point can forget or misspell it."""
    modules = [*APP.rglob("*.py")]
    entry_points = [p for p in modules if any(d in p.read_text() for d in ENTRY_DECORATORS)]
    found = {}
    for path in entry_points:
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit"
        ]
        if calls:
            found[str(path.relative_to(APP.parent))] = len(calls)
    assert found == AUDITED_IN_VIEW


UNIT_OF_WORK = {"unit_of_work", "commit_unit_of_work", "rollback_unit_of_work"}
# Where units of work begin and end: the request edge (and its error handler), the domains'
# tasks, the unit of work itself, and the command line (each command is an entry point).
EDGES = {APP / "__init__.py", APP / "db.py", APP / "core" / "errors.py"}


def _is_edge(path: Path) -> bool:
    return path in EDGES or path.name in {"tasks.py", "cli.py"}


def test_services_never_end_a_unit_of_work():
    """A service works inside its caller's unit of work: it flushes, and where it must commit
    part-way it names a commit point. Job runners — several units around provider calls —
    live with the tasks (app/<domain>/tasks.py), so a service cannot be called from a web
    request and commit that request's work behind its back."""
    found = []
    for path in sorted(APP.rglob("*.py")):
        if _is_edge(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in UNIT_OF_WORK:
                    found.append(f"{path.relative_to(APP.parent)}:{node.lineno} {name}()")
    assert found == []


def test_every_domain_task_module_is_registered_with_the_consumer():
    """`huey_consumer tasks.huey` must know every task a web instance can enqueue."""
    import tasks

    on_disk = {
        ".".join(p.relative_to(APP.parent).with_suffix("").parts) for p in APP.rglob("tasks.py")
    }
    assert set(tasks.TASK_MODULES) == on_disk
    names = set(tasks.huey._registry._registry)  # what the consumer can run, by name
    for expected in ("deliver_notification", "run_import", "send_refund_task", "sweep_checkouts"):
        assert any(name.endswith("." + expected) for name in names), expected
