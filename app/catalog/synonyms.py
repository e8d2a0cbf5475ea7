"""Search synonyms staff manage: each group is a set of terms that find each other.

A term is one to three words; a search term (or run of words) that is in a group becomes
"any of the group" in the search expression (app/catalog/search.py), on both databases.
Groups are read once per catalog version (cached), and every change is audited and moves
the catalog version, so cached searches follow at once.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.accounts.audit import audit
from app.catalog.cache import cached_value, catalog_changed
from app.catalog.errors import CatalogError
from app.catalog.models import SearchSynonym
from app.extensions import db

MAX_TERMS = 10
MAX_WORDS = 3
MAX_TERM_LENGTH = 50
MAX_GROUPS = 1000
_WORD = re.compile(r"\w+(?:-\w+)*", re.UNICODE)  # a hyphenated word stays one: "t-shirt"


def normalise_term(text: str) -> str:
    """ "  T-Shirt " → "t-shirt": lower case, single spaces, hyphens kept (PostgreSQL indexes
    "t-shirt" as one lexeme; FTS5 reads it as the phrase "t shirt")."""
    return " ".join(w.lower() for w in _WORD.findall(text))


def lookup_key(term: str) -> str:
    """How a shopper's words meet a term: "t-shirt" and "t shirt" are both "t shirt"."""
    return term.replace("-", " ")


def parse_group(text: str) -> list[str]:
    """The distinct terms of a group typed as "tee, t-shirt" (commas or new lines)."""
    terms: list[str] = []
    for raw in re.split(r"[,\n;]", text[:2000]):
        term = normalise_term(raw)
        if not term or lookup_key(term) in {lookup_key(t) for t in terms}:
            continue
        if len(term) > MAX_TERM_LENGTH or len(lookup_key(term).split()) > MAX_WORDS:
            raise CatalogError(
                f"“{term[:MAX_TERM_LENGTH]}” is too long: a term is one to {MAX_WORDS} words.",
                field="terms",
            )
        terms.append(term)
    if len(terms) < 2:
        raise CatalogError(
            "Enter at least two words or phrases that mean the same, separated by commas.",
            field="terms",
        )
    if len(terms) > MAX_TERMS:
        raise CatalogError(f"A group holds at most {MAX_TERMS} terms.", field="terms")
    return terms


def list_groups() -> list[SearchSynonym]:
    return list(
        db.session.execute(sa.select(SearchSynonym).order_by(SearchSynonym.terms)).scalars()
    )


def add_group(text: str, *, actor_id: int | None) -> SearchSynonym:
    terms = parse_group(text)
    groups = list_groups()
    if len(groups) >= MAX_GROUPS:
        raise CatalogError(f"The shop has {MAX_GROUPS} synonym groups, the most it keeps.")
    for group in groups:
        known = {lookup_key(t) for t in group.term_list}
        taken = [t for t in terms if lookup_key(t) in known]
        if taken:
            raise CatalogError(
                f"“{taken[0]}” is already in the group {group.terms}. Delete that group first "
                "or leave the word out.",
                field="terms",
            )
    group = SearchSynonym(terms=", ".join(terms))
    db.session.add(group)
    db.session.flush()
    audit(
        "catalog.synonyms_add", actor_id=actor_id, target=f"synonyms:{group.id}", detail=group.terms
    )
    catalog_changed()
    return group


def delete_group(group_id: int, *, actor_id: int | None) -> SearchSynonym | None:
    group = db.session.get(SearchSynonym, group_id)
    if group is None:
        return None
    db.session.delete(group)
    db.session.flush()
    audit(
        "catalog.synonyms_delete",
        actor_id=actor_id,
        target=f"synonyms:{group_id}",
        detail=group.terms,
    )
    catalog_changed()
    return group


def synonym_map() -> dict[str, list[str]]:
    """Each term (as :func:`lookup_key`) → every term of its group (itself first), for the
    search expression."""

    def load() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for (terms,) in db.session.execute(sa.select(SearchSynonym.terms)):
            group = [t for t in terms.split(", ") if t]
            for term in group:
                found[lookup_key(term)] = [term] + [t for t in group if t != term]
        return found

    return cached_value("synonyms", load, stock=False)
