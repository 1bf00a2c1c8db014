"""What every outcome must record (product.md §4): rationales that say why in the writer's own
words, required text that is not a placeholder, and the child identified no further than the
process needs. Pure: no Flask, no database session, no clock."""

import re

from escalate.errors import FieldError, RationaleRequired
from escalate.wording import (
    MAX_CHILD_REFERENCE_CHARACTERS,
    MAX_TEXT_CHARACTERS,
    MIN_RATIONALE_CHARACTERS,
    MIN_RATIONALE_WORDS,
)

# Phrases that stand in for a reason without giving one (compared after normalising).
PLACEHOLDERS = frozenset(
    {
        "n/a",
        "na",
        "n a",
        "none",
        "nil",
        "nothing",
        "no comment",
        "no comments",
        "tbc",
        "tba",
        "see above",
        "as above",
        "see below",
        "as discussed",
        "as per discussion",
        "discussed",
        "see notes",
        "see case notes",
        "see file",
        "see record",
        "see email",
        "as agreed",
        "agreed",
        "ok",
        "okay",
        "fine",
        "yes",
        "no",
        "same",
        "same as before",
        "not applicable",
        "refer to notes",
        "per discussion",
        "per conversation",
    }
)


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z/ ]+", " ", text.lower()).strip()


def require_rationale(text: str | None, *, field: str = "rationale", what: str = "the rationale"):
    """Return the cleaned rationale, or refuse it with a reason the form can show.

    A rationale must say why, in the writer's own words: long enough to carry a reason, and not a
    placeholder such as "n/a", "see above" or "as discussed".
    """
    cleaned = (text or "").strip()
    if not cleaned:
        raise RationaleRequired(field, f"Enter {what}")
    if is_placeholder(cleaned):
        raise RationaleRequired(
            field,
            f"Explain {what} in your own words: \u201c{cleaned}\u201d does not record why, and "
            "the record must make sense to someone reading it later",
        )
    words = re.findall(r"[A-Za-z0-9']+", cleaned)
    if len(cleaned) < MIN_RATIONALE_CHARACTERS or len(words) < MIN_RATIONALE_WORDS:
        raise RationaleRequired(
            field,
            f"Explain {what} in at least {MIN_RATIONALE_WORDS} words and "
            f"{MIN_RATIONALE_CHARACTERS} characters, so that someone reading "
            "the record later understands why",
        )
    if len(cleaned) > MAX_TEXT_CHARACTERS:
        raise RationaleRequired(
            field,
            f"{what[0].upper()}{what[1:]} must be {MAX_TEXT_CHARACTERS:,} characters or fewer",
        )
    return cleaned


def is_placeholder(text: str | None) -> bool:
    """Whether ``text`` only stands in for an answer ("n/a", "see above", "as discussed"…)."""
    normalised = " ".join(_normalise(text or "").split())
    return normalised in PLACEHOLDERS or normalised.rstrip("s") in PLACEHOLDERS


def require_text(text: str | None, *, field: str, what: str) -> str:
    """Return required free text, cleaned; refuse it when empty, a placeholder or too long."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise FieldError(field, f"Enter {what}")
    if is_placeholder(cleaned):
        raise RationaleRequired(
            field,
            f"Enter {what} in your own words: \u201c{cleaned}\u201d does not say it, and the "
            "record must make sense to someone reading it later",
        )
    if len(cleaned) > MAX_TEXT_CHARACTERS:
        raise FieldError(
            field, f"Keep {what} to {MAX_TEXT_CHARACTERS:,} characters or fewer"
        )
    return cleaned


def check_child(reference: str | None, initials: str | None, date_of_birth, today) -> None:
    """The child is identified only as far as the process needs: a case reference and initials."""
    check_child_reference(reference)
    check_child_initials(initials)
    check_child_date_of_birth(date_of_birth, today)


def check_child_reference(reference: str | None) -> None:
    if not (reference or "").strip():
        raise FieldError(
            "child_reference", "Enter your agency's case reference for the child"
        )
    if len(reference.strip()) > MAX_CHILD_REFERENCE_CHARACTERS:
        raise FieldError(
            "child_reference",
            f"The case reference must be {MAX_CHILD_REFERENCE_CHARACTERS} characters or fewer",
        )


def check_child_initials(initials: str | None) -> None:
    cleaned = (initials or "").strip()
    if not cleaned:
        raise FieldError("child_initials", "Enter the child's initials")
    if not re.fullmatch(r"[A-Za-z][A-Za-z.\- ]{0,9}", cleaned):
        raise FieldError(
            "child_initials", "Enter the child's initials using letters only, like JS"
        )


def check_child_date_of_birth(date_of_birth, today) -> None:
    if date_of_birth is not None:
        if date_of_birth > today:
            raise FieldError("child_date_of_birth", "Date of birth must be in the past")
        try:
            earliest = today.replace(year=today.year - 25)
        except ValueError:  # today is 29 February
            earliest = today.replace(year=today.year - 25, day=28)
        if date_of_birth < earliest:
            raise FieldError(
                "child_date_of_birth",
                "Date of birth must be within the last 25 years: this process is about children",
            )
