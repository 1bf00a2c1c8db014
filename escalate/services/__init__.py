"""Use cases: the only layer that commits. One module per group; each public function is one
transaction. Reads that change nothing are in escalate.queries.
"""

from escalate.services import (  # noqa: F401
    access,
    accounts,
    checkpoints,
    delivery,
    demo,
    differences,
    importing,
    inbox,
    retention,
    setup,
    sweep,
    synthetic,
    two_factor,
)
