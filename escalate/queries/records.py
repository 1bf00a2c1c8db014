"""Reads for information governance: which entries of a difference can still be corrected, and
the access log (who viewed what). Never commits."""

from escalate import history
from escalate.wording import EVENT_TEXT_LABELS, ROW_TEXT_LABELS

PREVIEW_CHARACTERS = 80


def _preview(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= PREVIEW_CHARACTERS:
        return f"\u201c{text}\u201d"
    return f"\u201c{text[:PREVIEW_CHARACTERS].rstrip()}\u2026\u201d"


def correctable_entries(difference) -> list[tuple[str, str]]:
    """(entry, label) of every text of the difference and its events that is still there: what
    a partnership member may correct (``services.retention.correct_entry``)."""
    removed = set(history.REMOVED.values())
    erased = history.erased_in(difference.erasures)
    entries = []
    for name in history.DIFFERENCE_TEXTS:
        text = getattr(difference, name) or ""
        if text and not (name in erased.get(None, {}) and text in removed):
            entries.append((f"row:{name}", f"{ROW_TEXT_LABELS[name]}: {_preview(text)}"))
    for event in difference.events:
        for name, text in (event.texts or {}).items():
            if text and not (name in erased.get(event.sequence, {}) and text in removed):
                label = f"Event {event.sequence}, {EVENT_TEXT_LABELS.get(name, name)}"
                entries.append((f"{event.sequence}:{name}", f"{label}: {_preview(text)}"))
    return entries
