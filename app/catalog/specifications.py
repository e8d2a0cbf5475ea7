"""Product specifications ("Material: Merino wool"): what staff type, and what is stored.

Staff write one per line, a name and a value separated by the first colon; the product keeps
them as an ordered mapping (``products.attributes``) that the product page and the API show.
Names are unique regardless of case, empty lines are skipped, and both parts are plain text
(escaped wherever they are shown).
"""

from __future__ import annotations

from app.catalog.errors import CatalogError

MAX_SPECIFICATIONS = 30
MAX_NAME = 40
MAX_VALUE = 200
FIELD = "specifications"


def parse_specifications(text: str) -> dict[str, str]:
    """The editor's text: one "Name: value" per line."""
    pairs = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split())
        if line:
            name, colon, value = line.partition(":")
            pairs.append((f"Line {number}", name if colon else "", value))
    return _validated(pairs, example="Material: Merino wool")


def parse_specifications_cell(cell: str) -> dict[str, str]:
    """The CSV column: "Material=Merino wool;Fit=Regular"."""
    pairs = []
    for number, part in enumerate((p for p in cell.split(";") if p.strip()), 1):
        name, equals, value = part.partition("=")
        pairs.append((f"Pair {number}", name if equals else "", value))
    return _validated(pairs, example="Material=Merino wool;Fit=Regular")


def _validated(pairs: list[tuple[str, str, str]], *, example: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for where, raw_name, raw_value in pairs:
        name, value = " ".join(raw_name.split()), " ".join(raw_value.split())
        if not name or not value:
            raise CatalogError(f"{where}: write a name and a value, e.g. {example}.", field=FIELD)
        if len(name) > MAX_NAME or len(value) > MAX_VALUE:
            raise CatalogError(
                f"{where}: a name has at most {MAX_NAME} characters and a value at most "
                f"{MAX_VALUE}.",
                field=FIELD,
            )
        if name.lower() in {n.lower() for n in found}:
            raise CatalogError(f"{where}: “{name}” is already given.", field=FIELD)
        found[name] = value
    if len(found) > MAX_SPECIFICATIONS:
        raise CatalogError(
            f"A product has at most {MAX_SPECIFICATIONS} specifications.", field=FIELD
        )
    return found


def format_specifications(attributes: dict[str, object] | None) -> str:
    return "\n".join(f"{name}: {value}" for name, value in (attributes or {}).items())
