"""Routes that exist only in the test app, to exercise cross-cutting behaviour."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, request, session

from app.db import after_commit
from app.extensions import csrf, db, limiter

bp = Blueprint("testing", __name__, url_prefix="/__test")
api_bp = Blueprint("api_testing", __name__, url_prefix="/api/v1/__test")
side_effects: list[str] = []

probe = sa.Table(
    "uow_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.String(50), nullable=False),
)


@bp.get("/boom")
def boom():
    raise RuntimeError("secret-detail: SELECT * FROM users WHERE password = 'hunter2'")


@bp.get("/session")
def touch_session():
    session["touched"] = True
    return "ok"


@bp.post("/upload")
@csrf.exempt
def upload():
    return str(len(request.get_data()))


@bp.post("/form")
def form_post():
    return "accepted"


@bp.post("/write/<label>")
@csrf.exempt
def write(label: str):
    """Writes a row, registers a side effect, then succeeds or fails as asked."""
    db.session.execute(probe.insert().values(label=label))
    after_commit(lambda: side_effects.append(label))
    outcome = request.args.get("outcome", "ok")
    if outcome == "raise":
        raise RuntimeError("failure after a write")
    if outcome == "abort":
        abort(409)
    if outcome == "status":
        return "bad input", 422
    return "written"


@bp.get("/count/<label>")
def count(label: str):
    return str(
        db.session.execute(
            sa.select(sa.func.count()).select_from(probe).where(probe.c.label == label)
        ).scalar_one()
    )


@bp.get("/limited")
@limiter.limit("3 per minute")
def limited():
    return "ok"


@api_bp.get("/limited")
@limiter.limit("2 per minute")
def api_limited():
    return {"ok": True}
