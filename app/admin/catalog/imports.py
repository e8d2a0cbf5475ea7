"""CSV import (dry run, then a background task with progress) and CSV exports.

Upload → dry run: the whole file is validated and every error listed (nothing is stored);
a clean file becomes an ``ImportJob`` (status validated) whose page shows what would change
and a Start button. Starting queues the Huey task; the job page polls its progress partial
with htmx and has a plain Refresh link without JavaScript. Exports live in
app/admin/catalog/exports.py.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response as BaseResponse

from app.accounts.permissions import permission_required
from app.admin import bp
from app.admin.listing import paginate, render_listing
from app.catalog import csv_format, csv_import
from app.catalog.import_jobs import create_job, start_job
from app.catalog.models import Category, ImportJob, JobStatus
from app.exports import stream_csv
from app.extensions import db, htmx

MAX_ERRORS_SHOWN = 1_000
PROGRESS_ID = "import-progress"


class ImportUploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose a CSV file to check.")],
        render_kw={"accept": ".csv,text/csv"},
    )


def _index(form: ImportUploadForm, status: int = 200, **context: object) -> tuple[str, int]:
    page = paginate(
        sa.select(ImportJob),
        sorts={"created": ImportJob.created_at},
        default="-created",
        tiebreak=ImportJob.id,
    )
    html = render_listing(
        "admin/imports/index.html",
        "admin/imports/_jobs.html",
        form=form,
        page=page,
        columns=csv_format.COLUMNS,
        limits={"mb": csv_format.MAX_BYTES // 1024 // 1024, "rows": csv_format.MAX_ROWS},
        max_errors=MAX_ERRORS_SHOWN,
        **context,
    )
    return html, status


@bp.get("/imports")
@permission_required("catalog.edit")
def imports() -> tuple[str, int]:
    return _index(ImportUploadForm())


@bp.post("/imports")
@permission_required("catalog.edit")
def imports_dry_run() -> tuple[str, int] | BaseResponse:
    """Check the file; errors re-render the page (422) and nothing is stored."""
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    upload = form.file.data
    filename = os.path.basename(upload.filename or "upload.csv")[:255]
    data = upload.stream.read()  # at most MAX_CONTENT_LENGTH (Flask refuses more with 413)
    try:
        text, plan = csv_import.validate_bytes(data)
    except csv_format.FileError as exc:
        form.file.errors = [str(exc)]
        return _index(form, 422)
    if plan.errors:
        return _index(form, 422, plan=plan, filename=filename)
    job = create_job(text, filename=filename, plan=plan, actor_id=current_user.id)
    return redirect(url_for("admin.imports_detail", job_id=job.id), 303)


@bp.get("/imports/template.csv")
@permission_required("catalog.edit")
def imports_template() -> Response:
    """A sample file with every column, using a real category path when there is one."""
    path = (
        db.session.execute(
            sa.select(Category.slug_path)
            .where(Category.depth > 0)
            .order_by(Category.depth.desc(), Category.id)
            .limit(1)
        ).scalar()
        or ""
    )
    currency = current_app.config["SHOP_CURRENCY"]
    rows = [
        ["linen-shirt", "Linen Shirt", "<p>Breathable linen.</p>", "Hearth", path, "draft",
         currency, "LS-M-BLUE", "Size=M;Colour=Blue", "39.00", "49.00", "12", "5"],
        ["linen-shirt", "", "", "", "", "", "", "LS-L-BLUE", "Size=L;Colour=Blue", "39.00", "",
         "8", "5"],
        ["oak-board", "Oak Chopping Board", "", "Hearth", path, "published", currency,
         "OAK-BOARD", "", "24.50", "", "30", ""],
    ]  # fmt: skip
    body = "".join(stream_csv(csv_format.COLUMN_NAMES, rows))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="product-import-template.csv"'},
    )


@bp.get("/imports/<int:job_id>")
@permission_required("catalog.edit")
def imports_detail(job_id: int) -> str:
    job = db.get_or_404(ImportJob, job_id)
    if htmx and htmx.target == PROGRESS_ID and not htmx.history_restore_request:
        return render_template("admin/imports/_progress.html", job=job)
    return render_template("admin/imports/job.html", job=job, JobStatus=JobStatus)


@bp.post("/imports/<int:job_id>/start")
@permission_required("catalog.edit")
def imports_start(job_id: int) -> BaseResponse:
    job = db.get_or_404(ImportJob, job_id)
    resuming = job.status == JobStatus.FAILED
    if start_job(job.id, actor_id=current_user.id):
        flash("Import resumed." if resuming else "Import started.", "success")
    else:
        flash("This import has already been started.", "info")
    return redirect(url_for("admin.imports_detail", job_id=job.id), 303)
