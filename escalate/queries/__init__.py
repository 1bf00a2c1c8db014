"""Reads: what pages, commands and use cases look up. Nothing here writes or commits."""

from escalate.queries import (  # noqa: F401
    access,
    actions,
    choices,
    chronology,
    conditions,
    differences,
    digest,
    drafts,
    figures,
    fingerprints,
    histories,
    inbox,
    learning,
    meetings,
    paging,
    records,
    report_sections,
    setup,
    spreadsheets,
    unresolved,
)
