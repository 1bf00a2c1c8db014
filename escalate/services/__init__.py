"""Use cases: the only layer that commits. One module per group; each public function is one
transaction. Reads that change nothing are in escalate.queries.
"""

from escalate.services import (  # noqa: F401
    access,
    accounts,
    actions,
    checkpoints,
    chronology,
    delivery,
    demo,
    differences,
    digest,
    drafts,
    extension_requests,
    importing,
    inbox,
    learning,
    meetings,
    proposals,
    raising_side,
    retention,
    setup,
    support,
    sweep,
    synthetic,
    transactions,
    two_factor,
)
