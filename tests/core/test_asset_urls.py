"""Static files are linked with a hash of their content (cached for a year by browsers): a
changed file gets a new link; in development each page costs a stat per file, not a hash."""

from __future__ import annotations

import os

import app.core.templating as templating


def _static_copy(tmp_path, name: str, text: str):
    static = tmp_path / "static"
    static.mkdir(exist_ok=True)
    path = static / name
    path.write_text(text)
    return static, path


def test_development_links_follow_the_file_and_hash_it_once_per_version(
    make_app, tmp_path, monkeypatch
):
    app = make_app(SHOP_ENV="development")
    static, path = _static_copy(tmp_path, "site.css", "body { color: black }")
    monkeypatch.setattr(app, "static_folder", str(static))
    hashed: list[str] = []
    real = templating._file_digest
    monkeypatch.setattr(templating, "_file_digest", lambda p: hashed.append(p) or real(p))
    with app.test_request_context("/"):
        first = templating.asset_url("site.css")
        assert templating.asset_url("site.css") == first  # the same version: no new hash
        assert len(hashed) == 1
        path.write_text("body { color: navy }")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        second = templating.asset_url("site.css")
    assert second != first and second.startswith("/static/site.css?v=")
    assert len(hashed) == 2


def test_production_links_are_computed_once_per_process(make_app, tmp_path, monkeypatch):
    app = make_app(SHOP_ENV="testing")
    static, path = _static_copy(tmp_path, "app.js", "let a = 1;")
    monkeypatch.setattr(app, "static_folder", str(static))
    with app.test_request_context("/"):
        first = templating.asset_url("app.js")
        path.write_text("let a = 2;")
        assert templating.asset_url("app.js") == first  # a running release's files do not change
        assert templating.asset_url("missing.js").endswith("v=missing")
