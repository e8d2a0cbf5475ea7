"""SEARCH_LANGUAGE: the PostgreSQL text search configuration the index and the queries share.
On SQLite the FTS5 index stems English and the commands say so."""

from __future__ import annotations

import flask_migrate
import pytest

from app.config import ConfigError, load_config
from app.db import unit_of_work
from app.extensions import db
from tests.catalog import factories
from tests.databases import is_postgres, temporary_database


def test_a_search_language_that_is_not_a_configuration_name_is_refused():
    assert load_config({"SEARCH_LANGUAGE": "German"})["SEARCH_LANGUAGE"] == "german"
    for bad in ("german; drop table products", "x", "'english'", "deutsch-de"):
        with pytest.raises(ConfigError, match="SEARCH_LANGUAGE"):
            load_config({"SEARCH_LANGUAGE": bad})


def test_the_index_language_is_shown_and_checked(app, db):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["shop", "search-language"])
    checked = runner.invoke(args=["shop", "check"])
    assert shown.exit_code == 0 and checked.exit_code == 0, checked.output
    if is_postgres():
        assert "index: english; SEARCH_LANGUAGE: english" in shown.output
        assert "search:      ok (english)" in checked.output
    else:
        assert "SQLite: the FTS5 index stems English" in shown.output
        assert "search:      SQLite FTS5, English stemming" in checked.output


def test_a_german_shop_rebuilds_its_index_and_finds_german_word_forms(app, tmp_root, make_app):
    """On PostgreSQL: until the index is rebuilt, `shop check` fails and names the command;
    afterwards "Haus" finds "Häuser" (German stems). On SQLite nothing is rebuilt."""
    if not is_postgres():
        result = app.test_cli_runner().invoke(args=["shop", "search-language", "--rebuild"])
        assert result.exit_code == 0 and "SQLite: the FTS5 index stems English" in result.output
        return
    with temporary_database(tmp_root, "german") as url:
        german = make_app(url, SEARCH_LANGUAGE="german")
        runner = german.test_cli_runner()
        with german.app_context():
            flask_migrate.upgrade()
            with unit_of_work():
                factories.product("Schöne Häuser aus Holz", description_html="<p>Modelle</p>")
            before = runner.invoke(args=["shop", "check"])
            rebuilt = runner.invoke(args=["shop", "search-language", "--rebuild"])
            after = runner.invoke(args=["shop", "check"])
            client = german.test_client()
            found = client.get("/api/v1/products?q=haus&as_typed=1").get_json()
            # The CLI commands ran in this app context and its session; hand back its
            # connection before the pool goes, or the dropped database leaves it to the GC.
            db.session.remove()
            db.engine.dispose()
    assert before.exit_code == 1
    assert "the index stems 'english', SEARCH_LANGUAGE is 'german'" in before.output
    assert "search-language --rebuild" in before.output
    assert rebuilt.exit_code == 0 and "Rebuilt the search index for german." in rebuilt.output
    assert after.exit_code == 0 and "search:      ok (german)" in after.output
    assert [item["name"] for item in found["items"]] == ["Schöne Häuser aus Holz"]
