"""The access log's seals: who viewed what, one chain of entries, each sealed with the history
key over its content and the seal of the entry before it; checkpoints record how far it had got
(``access`` in a checkpoint line). Pure, like escalate.history, whose key ring and MAC it uses.
"""

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC

from escalate.history import GENESIS, KeyRing, RecordProblem, _canonical, _mac

ACCESS_SCHEME = "escalate-access-1"


def access_content(entry) -> dict:
    return {
        "position": entry.position,
        "at": entry.at.astimezone(UTC).isoformat(),
        "user_id": entry.user_id,
        "kind": str(entry.kind),
        "difference_id": entry.difference_id,
        "what": entry.what,
        "key_id": entry.key_id,
    }


def access_seal_of(entry, keys: KeyRing) -> str | None:
    key = keys.keys.get(entry.key_id)
    if key is None:
        return None
    message = "\n".join((ACCESS_SCHEME, entry.previous_seal, _canonical(access_content(entry))))
    return _mac(key, message)


def seal_access(entry, keys: KeyRing, *, previous_seal: str) -> None:
    """Seal a new entry of the access log after the log's last one."""
    entry.key_id = keys.current
    entry.previous_seal = previous_seal
    entry.seal = access_seal_of(entry, keys)


@dataclass
class AccessWalk:
    """Verify the access log entry by entry in the order of their positions (from a checkpoint's
    ``position`` and ``seal``, or from the start)."""

    keys: KeyRing
    position: int = 0
    seal: str = GENESIS
    checkpoint: Mapping | None = None  # the last checkpoint's ``access``: position and seal
    entries: int = 0
    problems: list[RecordProblem] = field(default_factory=list)
    seal_at_checkpoint: str | None = None

    def __post_init__(self):
        if self.checkpoint and self.checkpoint.get("position") == self.position:
            self.seal_at_checkpoint = self.seal

    def add(self, entry) -> None:
        self.entries += 1
        if self.checkpoint and entry.position == self.checkpoint.get("position"):
            self.seal_at_checkpoint = entry.seal
        expected = self.position + 1
        if entry.position < expected:
            self.problems.append(
                RecordProblem("two entries of the access log hold the same place", entry.position)
            )
            return
        if entry.position > expected:
            missing = entry.position - expected
            self.problems.append(
                RecordProblem(
                    "an entry of the access log is missing"
                    if missing == 1
                    else f"{missing} entries of the access log are missing (positions "
                    f"{expected} to {entry.position - 1})",
                    expected,
                )
            )
        elif entry.previous_seal != self.seal:
            self.problems.append(
                RecordProblem(
                    "the access log's entry before this one is not the one it was sealed after",
                    entry.position,
                )
            )
        expected_seal = access_seal_of(entry, self.keys)
        if expected_seal is None:
            self.problems.append(
                RecordProblem(
                    "an entry of the access log is sealed with a key escalate does not hold",
                    entry.position,
                )
            )
        elif not hmac.compare_digest(expected_seal, entry.seal or ""):
            self.problems.append(
                RecordProblem(
                    "an entry of the access log was altered after it was written", entry.position
                )
            )
        self.position, self.seal = entry.position, entry.seal

    def finish(self, head) -> None:
        """Compare where the walk ended with the log's head row and the last checkpoint."""
        checkpoint = self.checkpoint
        head_position = head.position if head is not None else 0
        if head_position > self.position:
            self.problems.append(
                RecordProblem(
                    f"the access log's last {head_position - self.position} entries are missing",
                    self.position + 1,
                )
            )
        elif head is not None and (head_position < self.position or head.seal != self.seal):
            self.problems.append(
                RecordProblem("the access log's last entry is not the one its head names")
            )
        elif head is None and self.position:
            self.problems.append(RecordProblem("the access log's head is missing"))
        if checkpoint and self.position < checkpoint.get("position", 0):
            self.problems.append(
                RecordProblem(
                    f"the access log ends at position {self.position}, before the checkpoint's "
                    f"position {checkpoint['position']}: entries were removed",
                    self.position + 1,
                )
            )
        elif checkpoint and checkpoint.get("position") and (
            self.seal_at_checkpoint != checkpoint.get("seal")
        ):
            self.problems.append(
                RecordProblem(
                    "the access log's entry here is not the one the checkpoint recorded",
                    checkpoint["position"],
                )
            )
