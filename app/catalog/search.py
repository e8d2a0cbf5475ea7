r"""Full-text search behind one function: SQLite FTS5 embedded, PostgreSQL tsvector in production.

User input never reaches the query syntax: only words (``\w+``) are kept, each quoted, for
both FTS5 and PostgreSQL's ``to_tsquery``; the last word matches as a prefix. Both engines
stem (FTS5's Porter tokenizer, PostgreSQL's 'english' configuration), so "jackets" finds
"jacket". The index objects are created by hand-written migration steps (migrations/versions).

A search that finds nothing is corrected against the catalog's own words (:func:`correct`,
``search_words``): each unknown word becomes the closest known one within one or two edits,
the most used first, the same way on both databases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.sql.elements import ColumnElement

from app.catalog.cache import cached_value
from app.catalog.models import Category, Product, ProductStatus, SearchWord
from app.catalog.synonyms import synonym_map
from app.extensions import db

MAX_QUERY_LENGTH = 200
MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def search_terms(query: str) -> list[str]:
    return _WORD.findall(query[:MAX_QUERY_LENGTH])[:MAX_TERMS]


def _parts(query: str, synonyms: dict[str, list[str]]) -> list[list[str]]:
    """The query's terms, each the list of its alternatives: itself, or every term of its
    synonym group when it (or a run of up to three words) is in one."""
    terms = search_terms(query)
    parts: list[list[str]] = []
    i = 0
    while i < len(terms):
        for size in (3, 2, 1):
            phrase = " ".join(t.lower() for t in terms[i : i + size])
            if size <= len(terms) - i and phrase in synonyms:
                parts.append(synonyms[phrase])
                i += size
                break
        else:
            parts.append([terms[i]])
            i += 1
    return parts


@dataclass(frozen=True)
class _Syntax:
    """How one engine writes a query: a quoted word or phrase, the prefix mark, OR and AND."""

    phrase: Callable[[str], str]
    prefix: str
    either: str
    both: str


FTS5 = _Syntax(lambda text: f'"{text}"', "*", " OR ", " AND ")  # FTS5: no implicit AND before (
TSQUERY = _Syntax(lambda text: " <-> ".join(f"'{w}'" for w in text.split()), ":*", " | ", " & ")


def _expression(
    syntax: _Syntax,
    query: str,
    synonyms: dict[str, list[str]] | None,
    completions: list[str] | None,
) -> str | None:
    """Every word must match; the last one as a prefix (search as you type) or as one of the
    catalog words it begins (``completions``: a stemmed prefix such as "runn" would miss
    "running", indexed as "run"); a synonym becomes a choice of its group's phrases."""
    parts = _parts(query, synonyms or {})
    if not parts:
        return None
    out = []
    for index, alternatives in enumerate(parts):
        if len(alternatives) > 1:
            choices = [syntax.phrase(a) for a in alternatives]
        elif index == len(parts) - 1:
            first = syntax.phrase(alternatives[0]) + syntax.prefix
            choices = [first, *(syntax.phrase(w) for w in completions or [])]
        else:
            choices = [syntax.phrase(alternatives[0])]
        out.append(choices[0] if len(choices) == 1 else "(" + syntax.either.join(choices) + ")")
    return syntax.both.join(out)


def fts5_match_expression(
    query: str,
    synonyms: dict[str, list[str]] | None = None,
    completions: list[str] | None = None,
) -> str | None:
    """``"red" AND ("wool"* OR "woollen")``; a synonym ``("tee" OR "t-shirt")``."""
    return _expression(FTS5, query, synonyms, completions)


def tsquery_expression(
    query: str,
    synonyms: dict[str, list[str]] | None = None,
    completions: list[str] | None = None,
) -> str | None:
    """``'red' & 'wool':*`` for PostgreSQL; a synonym ``('tee' | 't-shirt')`` (a hyphenated
    term is one lexeme to PostgreSQL's parser; other phrases are words ``<->`` words)."""
    return _expression(TSQUERY, query, synonyms, completions)


COMPLETIONS = 8  # catalog words offered for a half-typed last word


def completions(query: str) -> list[str]:
    """The most used catalog words that begin with the query's last word (cached per
    catalog version); nothing for a word of one letter or a word the catalog has itself."""
    terms = search_terms(query)
    if not terms:
        return []
    prefix = terms[-1].lower()
    if len(prefix) < 2:
        return []

    def load() -> list[str]:
        rows = db.session.execute(
            sa.select(SearchWord.word)
            .where(SearchWord.word.startswith(prefix, autoescape=True), SearchWord.word != prefix)
            .order_by(SearchWord.docs.desc(), SearchWord.word)
            .limit(COMPLETIONS)
        ).scalars()
        return list(rows)

    return cached_value("complete:" + prefix, load)


@dataclass(frozen=True)
class SearchClause:
    """Join target, and a rank expression where smaller sorts first."""

    subquery: sa.Subquery | sa.CTE
    rank: ColumnElement[float]


# Both engines rank stems alike ("jackets" and "jacket" are one word to them); a name that
# holds a word exactly as it was typed comes first, so "jackets" lists "… Jackets" before
# "… Jacket". Larger than any text rank either engine gives a short product.
EXACT_BOOST = 20.0


def _exact_words(name: ColumnElement[Any], query: str) -> ColumnElement[Any]:
    """How many of the typed words the name holds as whole words, as typed (case aside):
    "jacket" is in "Denim Jacket", not in "Jacketed Mug" nor "Two Jackets"."""
    padded = sa.literal(" ", sa.String) + sa.func.lower(name) + sa.literal(" ", sa.String)
    hits = [
        sa.case((padded.contains(f" {term.lower()} ", autoescape=True), 1), else_=0)
        for term in dict.fromkeys(search_terms(query))
    ]
    return sum(hits[1:], hits[0]) if hits else sa.literal(0)


def search_clause(
    dialect: str,
    query: str,
    *,
    ranked: bool = True,
    complete: bool = False,
    exact_first: bool = True,
) -> SearchClause | None:
    """Product ids matching ``query``, with a relevance rank when ``ranked`` (ranking every
    match costs more than finding them, so counts and non-relevance sorts skip it);
    ``None`` if there is nothing to search for. ``complete``: the last word may also be any
    catalog word it begins — the callers ask for that only when the plain search found
    nothing (the alternatives make a broad search about twice as slow on PostgreSQL).
    ``exact_first``: names holding a typed word whole rank first (the listing; suggestions
    for half-typed words skip it, since it reads every match's name)."""
    synonyms = synonym_map()
    words = completions(query) if complete else []
    if dialect == "sqlite":
        match = fts5_match_expression(query, synonyms, words)
        if match is None:
            return None
        fts = sa.table("product_search", sa.column("rowid"), sa.column("name"))
        rank: ColumnElement[float] = (
            sa.func.bm25(sa.literal_column("product_search"), 10.0, 4.0, 1.0)
            - EXACT_BOOST * _exact_words(fts.c.name, query if exact_first else "")
            if ranked
            else sa.literal(0.0)
        )
        sub: sa.Subquery | sa.CTE = (
            sa.select(fts.c.rowid.label("product_id"), rank.label("rank"))
            .select_from(fts)
            .where(sa.literal_column("product_search").op("MATCH")(match))
            # Materialised: otherwise SQLite runs the FTS query once per product row
            # (15 s instead of 25 ms at 100,000 products).
            .cte("search")
            .prefix_with("MATERIALIZED")
        )
        return SearchClause(sub, sub.c.rank)

    expression = tsquery_expression(query, synonyms, words)
    if expression is None:
        return None
    tsquery = sa.func.to_tsquery(language_config(), expression)
    vector: ColumnElement[Any] = sa.literal_column("products.search_vector")
    rank = (
        -sa.func.ts_rank_cd(vector, tsquery)
        - EXACT_BOOST
        * _exact_words(sa.literal_column("products.name"), query if exact_first else "")
        if ranked
        else sa.literal(0.0)
    )
    sub = (
        sa.select(Product.id.label("product_id"), rank.label("rank"))
        .where(vector.op("@@")(tsquery))
        .subquery("search")
    )
    return SearchClause(sub, sub.c.rank)


def language_config() -> ColumnElement[Any]:
    """The PostgreSQL text search configuration, e.g. ``'german'::regconfig``: the same one
    the generated ``search_vector`` column was built with (app/catalog/search_index.py). The
    name is checked by app/config.py (``[a-z_]+``), so it is safe as a literal."""
    return sa.literal_column(f"'{current_app.config['SEARCH_LANGUAGE']}'::regconfig")


# -- typo correction ------------------------------------------------------------------------

MIN_CORRECTED = 4  # shorter words are too ambiguous to correct ("tee" would become "the")
VOCABULARY_WORD = re.compile(r"[^\W\d_]{3,64}", re.UNICODE)


def vocabulary_words(text: str) -> set[str]:
    return {w.lower() for w in VOCABULARY_WORD.findall(text or "")}


def refresh_vocabulary() -> int:
    """Rebuild ``search_words`` from published products' names and brands and category
    names (a periodic task, the seed and finished imports call it). Returns its size."""
    if db.engine.dialect.name == "postgresql":
        # One rebuild at a time (the periodic one and an import's may overlap): the second
        # waits, then replaces the first's rows instead of colliding with them.
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(4172611)"))
    counts: dict[str, int] = {}
    rows = db.session.execute(
        sa.select(Product.name, Product.brand).where(Product.status == ProductStatus.PUBLISHED)
    )
    names = [f"{name} {brand or ''}" for name, brand in rows]
    names += list(db.session.execute(sa.select(Category.name)).scalars())
    for text in names:
        for word in vocabulary_words(text):
            counts[word] = counts.get(word, 0) + 1
    db.session.execute(sa.delete(SearchWord))
    if counts:
        db.session.execute(
            sa.insert(SearchWord), [{"word": w, "docs": n} for w, n in sorted(counts.items())]
        )
    return len(counts)


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of two letters is one edit), or ``limit``
    + 1 as soon as it is sure to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def _closest(word: str) -> str | None:
    """The known word closest to ``word`` (itself when known), or None."""
    limit = 1 if len(word) < 7 else 2
    first = word[0]
    candidates = db.session.execute(
        sa.select(SearchWord.word, SearchWord.docs).where(
            SearchWord.word.startswith(first, autoescape=True),
            sa.func.length(SearchWord.word).between(len(word) - limit, len(word) + limit),
        )
    ).all()
    best: tuple[int, int, str] | None = None
    for candidate, docs in candidates:
        if candidate == word:
            return word
        distance = _distance(word, candidate, limit)
        if distance <= limit and (best is None or (distance, -docs, candidate) < best):
            best = (distance, -docs, candidate)
    return best[2] if best else None


def correct(query: str) -> str | None:
    """The query with each word the catalog does not know replaced by the closest one it
    does; None when nothing could be corrected."""
    terms = [t.lower() for t in search_terms(query)]
    corrected = []
    for term in terms:
        known = _closest(term) if len(term) >= MIN_CORRECTED and not term.isdigit() else None
        corrected.append(known or term)
    return " ".join(corrected) if corrected != terms else None
