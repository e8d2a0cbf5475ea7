"""GET /pages/<slug>: the shop's own pages, the same for everyone."""

from __future__ import annotations

from flask import abort, make_response, render_template
from werkzeug.wrappers import Response

from app.pages import bp
from app.pages.services import get_page


@bp.get("/pages/<slug>")
def show(slug: str) -> Response:
    page = get_page(slug)
    if page is None:
        abort(404)
    response = make_response(render_template("pages/page.html", page=page))
    response.headers["Cache-Control"] = "private, no-cache"  # carries the visitor's mini-cart
    return response
