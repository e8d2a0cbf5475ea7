"""What autogenerate compares: everything but the hand-written search index objects."""


def include_object(obj, name, type_, reflected, compare_to):
    info = getattr(obj, "info", None) or {}
    if info.get("skip_autogenerate"):
        return False
    if type_ == "table" and name and name.startswith(("product_search", "sqlite_")):
        return False
    if type_ == "column" and name == "search_vector":
        return False
    if type_ == "index" and name == "ix_products_search_vector":
        return False
    return True
