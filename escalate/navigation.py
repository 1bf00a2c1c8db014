"""The header's navigation: which links each role sees."""

from flask import url_for


def navigation_for(user, endpoint: str | None) -> list[dict]:
    """Service navigation items for the signed-in user (none for a visitor)."""
    if not getattr(user, "is_authenticated", False):
        return []
    items = [("auth.account", "Your account")]
    return [
        {"href": url_for(target), "text": text, "active": endpoint == target}
        for target, text in items
    ]
