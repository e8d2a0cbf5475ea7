"""CSV import: the dry run lists every error and writes nothing; a clean file imports in the
background (Huey runs inline in tests) with prices, stock movements and progress; exports
re-import as a no-op; lost workers are recovered by the sweeper without double stock."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.accounts.permissions import ROLE_PERMISSIONS
from app.catalog import csv_apply, csv_format, csv_import, import_jobs
from app.catalog import tasks as import_tasks
from app.catalog.models import ImportJob, JobStatus, PriceChange, Product, StockMovement, Variant
from app.catalog.services import VariantInput
from app.db import commit_unit_of_work, unit_of_work, utcnow
from app.extensions import db
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.catalog import factories

HEADER = list(csv_format.COLUMN_NAMES)


def csv_bytes(rows: list[dict], header: list[str] = HEADER, bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode()


def upload(client, data: bytes, name: str = "products.csv", token: str | None = None):
    token = token or csrf(client, "/admin/imports")
    return client.post(
        "/admin/imports",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def counts(db) -> dict[str, int]:
    def n(model):
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()

    return {
        "products": n(Product),
        "variants": n(Variant),
        "movements": n(StockMovement),
        "prices": n(PriceChange),
        "jobs": n(ImportJob),
    }


def job_id_from(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(re.search(r"/admin/imports/(\d+)$", response.headers["Location"]).group(1))


def start(client, job_id: int):
    token = csrf(client, f"/admin/imports/{job_id}")
    return client.post(f"/admin/imports/{job_id}/start", data={"csrf_token": token})


@pytest.fixture
def shirts(db):
    """A category and an existing product with two variants."""
    clothing = factories.category("Clothing")
    shirts = factories.category("Shirts", clothing)
    product = factories.product(
        "Linen Shirt",
        category=shirts,
        variants=[
            VariantInput(sku="LS-M", price=3900, options={"Size": "M"}, stock=10),
            VariantInput(sku="LS-L", price=3900, options={"Size": "L"}, stock=4),
        ],
    )
    commit_unit_of_work()
    return product


def good_rows() -> list[dict]:
    return [
        # existing product: price change on one variant, stock change on the other, a new SKU
        {"handle": "linen-shirt", "name": "Linen Shirt", "sku": "LS-M", "price": "42.50",
         "stock": "10", "options": "Size=M"},
        {"handle": "linen-shirt", "name": "", "sku": "LS-L", "price": "39.00", "stock": "7",
         "options": "Size=L"},
        {"handle": "linen-shirt", "name": "", "sku": "LS-XL", "price": "41", "stock": "3",
         "options": "Size=XL", "low_stock_threshold": "2"},
        # a new product with two variants, in the category
        {"handle": "oak-board", "name": "Oak Board", "description": "<p>Solid oak.</p>",
         "brand": "Hearth", "category": "clothing/shirts", "status": "published",
         "currency": "EUR", "sku": "OAK-S", "options": "Size=S;Finish=Oil", "price": "24.50",
         "compare_at_price": "29.99", "stock": "12"},
        {"handle": "oak-board", "name": "Oak Board", "sku": "OAK-L",
         "options": "Size=L;Finish=Oil", "price": "34.00", "stock": "0"},
    ]  # fmt: skip


def test_dry_run_reports_every_error_and_writes_nothing(client, db, shirts):
    factories.product("Other", variants=[VariantInput(sku="OTHER-1", price=100, options={})])
    commit_unit_of_work()
    sign_in_staff(client)
    before = counts(db)
    rows = [
        {"handle": "good-one", "name": "Fine", "sku": "G-1", "price": "10.00", "stock": "1"},
        {"handle": "bad-price", "name": "Bad", "sku": "B-1", "price": "€19.99"},
        {"handle": "neg-stock", "name": "Neg", "sku": "B-2", "price": "5", "stock": "-3"},
        {"handle": "dup", "name": "Dup", "sku": "G-1", "price": "5"},
        {"handle": "nocat", "name": "No cat", "sku": "B-3", "price": "5",
         "category": "does/not-exist"},
        {"handle": "badstatus", "name": "S", "sku": "B-4", "price": "5", "status": "live"},
        {"handle": "conflict", "name": "First", "sku": "B-5", "price": "5"},
        {"handle": "conflict", "name": "Second", "sku": "B-6", "price": "5"},
        {"handle": "long", "name": "x" * 201, "sku": "B-7", "price": "5"},
        {"handle": "Bad Handle", "name": "H", "sku": "B-8", "price": "5"},
        {"handle": "cents", "name": "C", "sku": "B-9", "price": "1.999"},
        {"handle": "moved", "name": "M", "sku": "OTHER-1", "price": "5"},
        {"handle": "opts", "name": "O", "sku": "B-10", "price": "5", "options": "Size"},
        {"handle": "noname", "name": "", "sku": "B-11", "price": "5"},
        {"handle": "zero", "name": "Z", "sku": "B-12", "price": "0"},
        {"handle": "linen-shirt", "name": "Linen Shirt", "sku": "LS-M", "price": "39",
         "currency": "USD"},
    ]  # fmt: skip
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    expected = [
        (3, "price", "as a number like 19.99, without a currency sign"),
        (4, "stock", "not a whole number"),
        (5, "sku", "also on row 2"),
        (6, "category", "No category has the path"),
        (7, "status", "draft, published or archived"),
        (9, "name", "Differs from row 8"),
        (10, "name", "Longer than 200"),
        (11, "handle", "lower-case"),
        (12, "price", "at most 2 decimal places"),
        (13, "sku", "belongs to the product"),
        (14, "options", "is not Name=value"),
        (15, "name", "Required for a new product"),
        (16, "price", "greater than zero"),
        (17, "currency", "sells in EUR"),
    ]
    cells = re.findall(
        r"<tr><td>(\d+)</td><td>(?:<code>([a-z_]+)</code>)?</td><td>([^<]*)</td></tr>", html
    )
    for row, column, text in expected:
        assert any(int(r) == row and c == column and text in m for r, c, m in cells), (
            f"row {row} {column}: {text!r} not in {cells}"
        )
    assert len(cells) == len(expected), "\n".join(map(str, cells))
    bad_rows = len({row for row, _, _ in expected})
    assert f"{len(expected)} problems in {bad_rows} of {len(rows)} rows." in html
    assert "Nothing was imported" in html
    assert "Start import" not in html
    db.session.expire_all()
    assert counts(db) == before


def test_good_file_imports_with_prices_stock_and_movements(client, db, shirts):
    staff = sign_in_staff(client)
    response = upload(client, csv_bytes(good_rows(), bom=True))
    job_id = job_id_from(response)
    page = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert "Products to create</dt><dd>1" in page
    assert "Variants to update</dt><dd>2" in page
    assert "Start import" in page
    # The dry run itself changed nothing in the catalog.
    assert db.session.execute(sa.select(Variant).where(Variant.sku == "OAK-S")).scalar() is None

    assert start(client, job_id).status_code == 303  # Huey runs it inline in tests
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.processed_rows == job.total_rows == 5
    assert job.results["products_created"] == 1 and job.results["variants_created"] == 3

    variants = {v.sku: v for v in db.session.execute(sa.select(Variant)).scalars()}
    assert variants["LS-M"].price == 4250 and variants["LS-M"].stock_on_hand == 10
    assert variants["LS-L"].stock_on_hand == 7
    assert variants["LS-XL"].price == 4100 and variants["LS-XL"].low_stock_threshold == 2
    assert variants["OAK-S"].price == 2450 and variants["OAK-S"].compare_at_price == 2999
    assert variants["OAK-S"].options == {"Size": "S", "Finish": "Oil"}
    oak = variants["OAK-S"].product
    assert (oak.slug, oak.status, oak.brand) == ("oak-board", "published", "Hearth")
    assert oak.category.slug_path == "clothing/shirts"
    assert (oak.price_min, oak.price_max, oak.in_stock) == (2450, 3400, True)

    movements = db.session.execute(
        sa.select(Variant.sku, StockMovement.on_hand_delta, StockMovement.actor_id)
        .join(Variant, Variant.id == StockMovement.variant_id)
        .where(StockMovement.reason == "import")
        .order_by(Variant.sku)
    ).all()
    assert [(m.sku, m.on_hand_delta) for m in movements] == [
        ("LS-L", 3),
        ("LS-XL", 3),
        ("OAK-S", 12),
    ]
    assert {m.actor_id for m in movements} == {staff.id}
    history = db.session.execute(
        sa.select(PriceChange.old_price, PriceChange.new_price).where(
            PriceChange.variant_id == variants["LS-M"].id
        )
    ).all()
    assert (3900, 4250) in history
    actions = set(
        db.session.execute(
            sa.select(AuditEvent.action).where(AuditEvent.target == f"import:{job_id}")
        ).scalars()
    )
    assert {"imports.dry_run", "imports.start", "imports.finished"} <= actions
    # The storefront shows the imported product at once.
    assert client.get("/products/oak-board").status_code == 200

    # Starting it again does nothing.
    before = counts(db)
    start(client, job_id)
    db.session.expire_all()
    assert counts(db) == before


def test_export_then_import_is_a_no_op(client, db, shirts):
    factories.product(
        "=Formula Lamp",
        brand="@brand",
        description_html="<p>Bright &amp; warm</p>",
        variants=[
            VariantInput(sku="-LAMP", price=1999, options={"Colour": "+Red"}, stock=3,
                         compare_at_price=2500),
        ],
    )  # fmt: skip
    # Stored as the demo seed stores it: a bare "&", which cleaning turns into "&amp;".
    factories.product("Tea Towel", stock=2).description_html = "<p>Tea & biscuits</p>"
    commit_unit_of_work()
    sign_in_staff(client)
    exported = client.get("/admin/imports/export/products.csv").get_data()
    assert b"'=Formula Lamp" in exported and b"'-LAMP" in exported
    db.session.expire_all()
    before = counts(db)
    stamps = dict(db.session.execute(sa.select(Product.id, Product.updated_at)).all())

    job_id = job_id_from(upload(client, exported, name="export.csv"))
    job = db.session.get(ImportJob, job_id)
    assert job.summary["products_unchanged"] == 3 and job.summary["variants_unchanged"] == 4
    assert job.summary["products_updated"] == job.summary["variants_updated"] == 0
    start(client, job_id)
    db.session.expire_all()
    assert db.session.get(ImportJob, job_id).status == JobStatus.SUCCEEDED
    after = counts(db)
    assert after == {**before, "jobs": before["jobs"] + 1}
    assert dict(db.session.execute(sa.select(Product.id, Product.updated_at)).all()) == stamps
    lamp = db.session.execute(sa.select(Variant).where(Variant.sku == "-LAMP")).scalar_one()
    assert lamp.product.name == "=Formula Lamp" and lamp.options == {"Colour": "+Red"}


def test_too_large_and_not_utf8_get_clear_messages(client, db, monkeypatch):
    sign_in_staff(client)
    monkeypatch.setattr(csv_format, "MAX_BYTES", 1024)
    big = csv_bytes(  # about 2 KB
        [{"handle": f"p-{i}", "name": "P", "sku": f"S-{i}", "price": "1"} for i in range(60)]
    )
    response = upload(client, big)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The file is 2 KB; the limit is 1 KB and 20,000 rows. Split it into smaller" in html

    monkeypatch.setattr(csv_format, "MAX_BYTES", 5 * 1024 * 1024)
    latin1 = "handle,name,sku,price\nkase,Käse,K-1,3.50\n".encode("latin-1")
    response = upload(client, latin1)
    assert response.status_code == 422
    assert "not UTF-8" in response.get_data(as_text=True)
    assert counts(db)["jobs"] == 0


def test_too_many_rows_and_missing_columns(client, db, monkeypatch):
    sign_in_staff(client)
    monkeypatch.setattr(csv_format, "MAX_ROWS", 3)
    rows = [{"handle": f"p-{i}", "name": "P", "sku": f"S-{i}", "price": "1"} for i in range(4)]
    html = upload(client, csv_bytes(rows)).get_data(as_text=True)
    assert "more than 3 rows" in html
    response = upload(client, b"handle;name;stok\nx;y;1\n")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Unknown column" in html and "stok" in html
    assert "<code>sku</code></td><td>This required column is missing." in html


def test_semicolon_separated_file_with_bom_is_read(client, db, shirts):
    sign_in_staff(client)
    data = "\ufeffhandle;name;sku;price;stock\nlinen-shirt;Linen Shirt;LS-M;39.00;11\n"
    job_id = job_id_from(upload(client, data.encode()))
    start(client, job_id)
    db.session.expire_all()
    assert (
        db.session.execute(sa.select(Variant.stock_on_hand).where(Variant.sku == "LS-M")).scalar()
        == 11
    )


def test_job_page_shows_progress_and_polls_while_running(client, db, shirts):
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="running", processed_rows=2)
    )
    commit_unit_of_work()
    html = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert '<progress id="import-bar" value="2" max="5"' in html
    assert 'hx-trigger="every 1s"' in html
    assert f'<a href="/admin/imports/{job_id}">Refresh</a>' in html
    partial = client.get(
        f"/admin/imports/{job_id}", headers={"HX-Request": "true", "HX-Target": "import-progress"}
    ).get_data(as_text=True)
    assert partial.lstrip().startswith('<section id="import-progress"') and "<html" not in partial
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="succeeded", processed_rows=5)
    )
    commit_unit_of_work()
    done = client.get(
        f"/admin/imports/{job_id}", headers={"HX-Request": "true", "HX-Target": "import-progress"}
    ).get_data(as_text=True)
    assert "every 1s" not in done and "Refresh" not in done and "Import finished" in done


def test_catalog_change_after_dry_run_fails_the_job_without_writes(client, db, shirts):
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    # Meanwhile someone else created a product with one of the file's new SKUs.
    factories.product("Rival", variants=[VariantInput(sku="OAK-L", price=100, options={})])
    commit_unit_of_work()
    before = counts(db)
    start(client, job_id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.FAILED and "Nothing was imported" in job.message
    assert any(e["column"] == "sku" and e["row"] == 6 for e in job.errors)
    assert counts(db) == before
    html = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert "Problems found when the import started" in html and "Resume import" in html


def test_failure_midway_keeps_whole_chunks_and_resumes(client, db, shirts, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 1)
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    real = csv_apply.apply_group

    def failing(group, context):
        if group.handle == "oak-board":
            raise csv_apply.CatalogError("Not enough stock for that change.")
        return real(group, context)

    monkeypatch.setattr(csv_apply, "apply_group", failing)
    start(client, job_id)
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.FAILED
    assert job.processed_rows == 3  # the linen-shirt product (3 rows), not a partial product
    assert "Rows from 5 on: Not enough stock" in job.message and "first 3 rows" in job.message
    assert (
        db.session.execute(sa.select(Product).where(Product.slug == "oak-board")).scalar() is None
    )

    monkeypatch.setattr(csv_apply, "apply_group", real)
    start(client, job_id)  # resume
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.SUCCEEDED and job.processed_rows == 5
    actions = db.session.execute(
        sa.select(AuditEvent.action).where(AuditEvent.target == f"import:{job_id}")
    ).scalars()
    assert "imports.resume" in set(actions)  # the service audits a resumed job as such
    deltas = db.session.execute(
        sa.select(Variant.sku, sa.func.sum(StockMovement.on_hand_delta))
        .join(Variant, Variant.id == StockMovement.variant_id)
        .where(StockMovement.reason == "import")
        .group_by(Variant.sku)
    ).all()
    assert dict(deltas) == {"LS-L": 3, "LS-XL": 3, "OAK-S": 12}


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing in the worker catches it."""


def test_sweeper_recovers_a_job_whose_worker_died(client, db, shirts, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 1)
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    assert import_jobs.start_job(job_id)
    db.session.info.pop("shop_after_commit", None)  # the enqueue is "lost"
    commit_unit_of_work()
    real = csv_apply.apply_group

    def dies(group, context):
        if group.handle == "oak-board":
            raise WorkerKilled
        return real(group, context)

    monkeypatch.setattr(csv_apply, "apply_group", dies)
    with pytest.raises(WorkerKilled):
        import_tasks.run_job(job_id)
    db.session.rollback()
    monkeypatch.setattr(csv_apply, "apply_group", real)
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.RUNNING and job.processed_rows == 3

    # While the lease runs, neither the sweeper nor a duplicate task touches it.
    assert import_jobs.sweep() == []
    assert import_tasks.run_job(job_id) is None
    commit_unit_of_work()

    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    commit_unit_of_work()
    assert import_jobs.sweep() == [job_id]
    commit_unit_of_work()  # runs the re-enqueued task (inline in tests)
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    deltas = db.session.execute(
        sa.select(Variant.sku, StockMovement.on_hand_delta)
        .join(Variant, Variant.id == StockMovement.variant_id)
        .where(StockMovement.reason == "import")
        .order_by(Variant.sku)
    ).all()
    assert [tuple(d) for d in deltas] == [("LS-L", 3), ("LS-XL", 3), ("OAK-S", 12)]
    # A stale duplicate of the task after success changes nothing.
    assert import_tasks.run_job(job_id) is None


def test_sweeper_requeues_lost_enqueue_and_gives_up_after_max_attempts(client, db, shirts):
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    old = utcnow() - timedelta(minutes=5)
    db.session.execute(
        sa.update(ImportJob).where(ImportJob.id == job_id).values(status="queued", updated_at=old)
    )
    commit_unit_of_work()
    assert import_jobs.sweep() == [job_id]
    commit_unit_of_work()
    db.session.expire_all()
    assert db.session.get(ImportJob, job_id).status == JobStatus.SUCCEEDED

    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="running", attempts=import_jobs.MAX_ATTEMPTS, lease_expires_at=old)
    )
    commit_unit_of_work()
    assert import_jobs.sweep() == []
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.status == JobStatus.FAILED and "worker lost" in job.message


def test_unstarted_dry_runs_are_purged(client, db, shirts):
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(created_at=utcnow() - timedelta(days=2))
    )
    import_jobs.sweep()
    commit_unit_of_work()
    assert db.session.get(ImportJob, job_id) is None


def test_template_download_has_every_column(client, db, shirts):
    sign_in_staff(client)
    response = client.get("/admin/imports/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == HEADER and len(rows) == 4
    assert rows[1][HEADER.index("category")] == "clothing/shirts"
    page = client.get("/admin/imports").get_data(as_text=True)
    for name in HEADER:
        assert f"<code>{name}</code>" in page


def test_permissions_csrf_and_ids(client, db, shirts, monkeypatch):
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    for path in ("/admin/imports", "/admin/imports/template.csv", "/admin/imports/1"):
        assert client.get(path).status_code == 404
    client.post("/account/logout", data={"csrf_token": csrf(client, "/account")})

    staff_client = client.application.test_client()
    sign_in_staff(staff_client)
    job_id = job_id_from(upload(staff_client, csv_bytes(good_rows())))
    assert staff_client.get("/admin/imports/99999999999").status_code == 404
    assert staff_client.get("/admin/imports/0").status_code == 404
    assert staff_client.post(f"/admin/imports/{job_id}/start").status_code == 400
    response = staff_client.post(
        "/admin/imports",
        data={"file": (io.BytesIO(csv_bytes(good_rows())), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    token = csrf(staff_client, "/admin/imports")

    without = ROLE_PERMISSIONS["staff"] - {"catalog.edit"}
    monkeypatch.setitem(ROLE_PERMISSIONS, "staff", without)
    assert staff_client.get("/admin/imports").status_code == 403
    assert staff_client.get(f"/admin/imports/{job_id}").status_code == 403
    assert upload(staff_client, csv_bytes(good_rows()), token=token).status_code == 403
    assert (
        staff_client.post(f"/admin/imports/{job_id}/start", data={"csrf_token": token}).status_code
        == 403
    )
    db.session.expire_all()
    assert db.session.get(ImportJob, job_id).status == JobStatus.VALIDATED


def test_concurrent_runs_of_one_job_import_it_once(app):
    """Real threads and commits: duplicate enqueues racing for one job; one claim wins."""
    from tests.concurrency import run_at_once

    rows = [
        {"handle": "race-board", "name": "Race Board", "sku": f"RACE-{i}", "price": "5.00",
         "stock": str(i + 1), "options": f"Size={i}"}
        for i in range(6)
    ]  # fmt: skip
    with app.app_context(), unit_of_work():
        text, plan = csv_import.validate_bytes(csv_bytes(rows))
        job_id = import_jobs.create_job(text, filename="race.csv", plan=plan, actor_id=None).id
        db.session.execute(
            sa.update(ImportJob).where(ImportJob.id == job_id).values(status="queued")
        )

    def worker(_: int):
        with unit_of_work():
            return import_tasks.run_job(job_id)

    try:
        outcomes = run_at_once(app, 4, worker)
        with app.app_context():
            job = db.session.get(ImportJob, job_id)
            deltas = (
                db.session.execute(
                    sa.select(StockMovement.on_hand_delta)
                    .join(Variant, Variant.id == StockMovement.variant_id)
                    .where(Variant.sku.like("RACE-%"))
                    .order_by(StockMovement.on_hand_delta)
                )
                .scalars()
                .all()
            )
            products = db.session.execute(
                sa.select(sa.func.count()).where(Product.slug == "race-board")
            ).scalar_one()
        assert sorted(outcomes, key=str) == [None, None, None, "succeeded"], outcomes
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 1
        assert products == 1 and deltas == [1, 2, 3, 4, 5, 6]
    finally:
        with app.app_context(), unit_of_work():
            ids = sa.select(Variant.id).where(Variant.sku.like("RACE-%"))
            db.session.execute(sa.delete(StockMovement).where(StockMovement.variant_id.in_(ids)))
            db.session.execute(sa.delete(PriceChange).where(PriceChange.variant_id.in_(ids)))
            db.session.execute(sa.delete(Variant).where(Variant.sku.like("RACE-%")))
            db.session.execute(sa.delete(Product).where(Product.slug == "race-board"))
            db.session.execute(sa.delete(ImportJob).where(ImportJob.id == job_id))


def test_old_files_are_dropped_and_pages_never_load_them(client, db, shirts):
    sign_in_staff(client)
    job_id = job_id_from(upload(client, csv_bytes(good_rows())))
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert "content" not in sa.inspect(job).dict  # deferred: up to 5 MB per row
    db.session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(status="failed", finished_at=utcnow() - timedelta(days=31))
    )
    import_jobs.sweep()
    commit_unit_of_work()
    db.session.expire_all()
    job = db.session.get(ImportJob, job_id)
    assert job.content == "" and not job.can_start
    assert not import_jobs.start_job(job_id)
    assert "Resume import" not in client.get(f"/admin/imports/{job_id}").get_data(as_text=True)


# -- specifications ------------------------------------------------------------------------


def product_by_slug(db, slug):
    db.session.expire_all()
    return db.session.execute(sa.select(Product).where(Product.slug == slug)).scalar_one()


def test_specifications_are_imported_and_a_bad_pair_is_named(client, db, shirts):
    sign_in_staff(client)
    bad = upload(client, csv_bytes([
        {"handle": "oak-board", "name": "Oak Board", "sku": "OAK-1", "price": "20",
         "specifications": "Wood=Oak;Finish"},
    ]))  # fmt: skip
    assert bad.status_code == 422
    assert "Pair 2: write a name and a value" in bad.get_data(as_text=True)

    job_id = job_id_from(upload(client, csv_bytes([
        {"handle": "oak-board", "name": "Oak Board", "sku": "OAK-1", "price": "20",
         "specifications": "Wood=Oak; Finish = Oiled"},
        {"handle": "linen-shirt", "name": "Linen Shirt", "sku": "LS-M", "price": "39",
         "stock": "10", "options": "Size=M", "specifications": "Material=Linen"},
    ])))  # fmt: skip
    assert db.session.get(ImportJob, job_id).summary["products_updated"] == 1
    start(client, job_id)
    assert db.session.get(ImportJob, job_id).status == JobStatus.SUCCEEDED
    assert list(product_by_slug(db, "oak-board").attributes.items()) == [
        ("Wood", "Oak"),
        ("Finish", "Oiled"),
    ]
    assert product_by_slug(db, "linen-shirt").attributes == {"Material": "Linen"}


def test_exported_specifications_import_again_unchanged(client, db, shirts):
    factories.product("Canvas Tote", stock=1).attributes = {"Material": "Canvas", "Size": "L"}
    commit_unit_of_work()
    sign_in_staff(client)
    exported = client.get("/admin/imports/export/products.csv").get_data()
    assert b"Material=Canvas;Size=L" in exported
    job_id = job_id_from(upload(client, exported, name="export.csv"))
    summary = db.session.get(ImportJob, job_id).summary
    assert summary["products_updated"] == 0 and summary["products_unchanged"] == 2
