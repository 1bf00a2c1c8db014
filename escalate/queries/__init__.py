"""Reads: what pages, commands and use cases look up. Nothing here writes or commits."""

from escalate.queries import (  # noqa: F401
    access,
    choices,
    chronology,
    conditions,
    differences,
    digest,
    drafts,
    figures,
    histories,
    inbox,
    paging,
    records,
    setup,
    spreadsheets,
    unresolved,
)
