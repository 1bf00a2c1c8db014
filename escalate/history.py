"""The tamper-evident history: sealing events and checkpoints, and verifying them.

Every event is sealed with a keyed MAC (HMAC-SHA256, the key kept outside the database) over its
content, the seal of its difference's previous event and the seal of the event before it in the
partnership's whole record (its ``position``: 1, 2, 3… across every difference). Each event
also carries a digest of its difference's row as the event left it (as stored, field by field),
so a row changed afterwards no longer matches its latest event. Checkpoints say how far the
whole record had got, signed with the same key; they are kept outside the database
(``checkpoint_log``).

What people typed (a rationale, the raiser's reasons, the child's initials…) is sealed through a
*commitment*: a keyed MAC of the text with a random nonce of its own (``commit``), so that the
seal, the row's digest and the commitment say nothing guessable about a text, even a short one.
A text can then be erased (under the retention policy, or as a correction) and the history still
verifies: the commitment stays, sealed, and the place of the text says why it was removed. A
text that no longer matches its commitment, and was not erased on the record, was altered.

Pure: no database session and no Flask. Keys are passed in as a ``KeyRing``.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC

GENESIS = "0" * 64
SCHEME = "escalate-history-3"
TEXT_SCHEME = "escalate-text-1"
CHECKPOINT_SCHEME = "escalate-checkpoint-1"

# The difference row's fields its latest event vouches for. Not ``version``: it moves with every
# change, and is not part of the record. A new column is added here, or to NOT_SEALED, on purpose
# (tests/unit/test_history.py checks every column is in one or the other).
DIFFERENCE_FIELDS = (
    "reference",
    "raiser_id",
    "raising_agency_id",
    "receiving_agency_id",
    "named_professional_id",
    "child_date_of_birth",
    "category",
    "discussed_informally",
    "immediate_risk",
    "urgent",
    "state",
    "stage_level",
    "outcome",
    "raised_at",
    "closed_at",
    "resolution_working_days",
    "anonymised_at",
    "text_seals",  # the commitments to DIFFERENCE_TEXTS
    "erasures",  # which texts were erased, and why (ERASED_BY)
)
# The row's texts, sealed through their commitments (in ``text_seals``), never as they stand.
DIFFERENCE_TEXTS = (
    "child_reference",
    "child_initials",
    "decision",
    "reasons",
    "desired_outcome",
    "informal_discussion",
    "protective_action",
)
NOT_SEALED = ("id", "version")

# The free texts an event may record (in ``Event.texts``, sealed through ``Event.text_seals``);
# every other fact of an event (an outcome, a stage's name, a number of days) is in ``data``.
EVENT_TEXTS = frozenset(
    {
        "rationale",
        "child_impact",
        "agreed_actions",
        "decision",
        "comment",
        "participants",
        "agreed",
        "text",
        "corrected_text",
        "reason",
        "advice",
        "answer",
        # Professionals' meetings (follow-through): "agreed" is the conversation's key too.
        "invited",
        "chair",
        "attendees",
        "recommendation",
        "action",  # an agreed action, as its response listed it
        "what_was_done",
    }
)
# Why a text was erased, and the words left in its place.
RETENTION = "retention"
CORRECTION = "correction"
REMOVED = {
    RETENTION: "[removed under the retention policy]",
    CORRECTION: "[removed: entered by mistake, see the correction]",
}

# What verification says about one difference's history (the page and verify-audit show these).
MISSING = "an event is missing"
OUT_OF_ORDER = "the events are out of order"
BROKEN_LINK = "the link to the previous event is broken"
ALTERED = "the event was altered after it was written"
UNKNOWN_KEY = "the event is sealed with a key escalate does not hold"
ROW_CHANGED = (
    "the difference's details, state, stage or outcome were changed after this event"
)
NO_HISTORY = MISSING


def key_id(key: str) -> str:
    """A short name for a key, stored with each seal so the right key verifies it. It says
    nothing useful about the key itself."""
    return "k" + hashlib.sha256(f"escalate history key id\n{key}".encode()).hexdigest()[:15]


@dataclass(frozen=True)
class KeyRing:
    """The key that seals new events and checkpoints, and every key that may verify old ones."""

    current: str  # the id of the sealing key
    keys: Mapping[str, bytes]

    @classmethod
    def of(cls, key: str, old: Iterable[str] = ()) -> "KeyRing":
        keys = {key_id(k): k.encode() for k in old}
        keys[key_id(key)] = key.encode()
        return cls(key_id(key), keys)

    @classmethod
    def from_config(cls, config: Mapping) -> "KeyRing":
        return cls.of(config["HISTORY_KEY"], config.get("HISTORY_OLD_KEYS", ()))


def _canonical(content) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(text: str) -> str:
    """The digest of a difference's row, given as the text the database holds it as (the
    queries build it from DIFFERENCE_FIELDS)."""
    return hashlib.sha256(text.encode()).hexdigest()


# --- Commitments to texts ------------------------------------------------------------------------


def commit(field: str, text: str, keys: KeyRing) -> str:
    """A commitment to one text: "key id.nonce.MAC" with a fresh random nonce, so that two equal
    texts commit differently and nobody without the key can test a guess against it."""
    nonce = secrets.token_hex(16)
    mac = _mac(keys.keys[keys.current], f"{TEXT_SCHEME}\n{field}\n{nonce}\n{text}")
    return f"{keys.current}.{nonce}.{mac}"


def commitment_holds(commitment, field: str, text, keys: KeyRing) -> bool | None:
    """Whether ``text`` is the one committed to; None if the commitment names a key the ring
    does not hold."""
    if not isinstance(commitment, str) or not isinstance(text, str):
        return False
    parts = commitment.split(".")
    if len(parts) != 3:
        return False
    key = keys.keys.get(parts[0])
    if key is None:
        return None
    expected = _mac(key, f"{TEXT_SCHEME}\n{field}\n{parts[1]}\n{text}")
    return hmac.compare_digest(expected, parts[2])


def split_texts(data: Mapping) -> tuple[dict, dict]:
    """An event's facts apart from its free texts: (data, texts)."""
    texts = {k: v for k, v in data.items() if k in EVENT_TEXTS and isinstance(v, str)}
    return {k: v for k, v in data.items() if k not in texts}, texts


def commit_texts(texts: Mapping[str, str], keys: KeyRing) -> dict:
    return {name: commit(name, text, keys) for name, text in texts.items()}


def texts_hold(texts, text_seals, keys: KeyRing, erased=None) -> str | None:
    """None if every text matches its commitment or was erased on the record (``erased``: field
    name -> why, and the text is the words left in its place); else the reason they do not."""
    texts, text_seals, erased = texts or {}, text_seals or {}, erased or {}
    if set(texts) != set(text_seals):
        return ALTERED
    for name, text in texts.items():
        why = erased.get(name)
        if why is not None:  # erased on the record: the words of erasure, and nothing else
            if text != REMOVED.get(why):
                return ALTERED
            continue
        holds = commitment_holds(text_seals[name], name, text, keys)
        if holds is None:
            return UNKNOWN_KEY
        if not holds:
            return ALTERED
    return None


def erased_in(erasures) -> dict[int | None, dict[str, str]]:
    """A difference's ``erasures`` (``"<sequence>:<field>"`` or ``"row:<field>"`` -> {"why",
    "by"}) as {sequence, or None for the row: {field: why}}."""
    found: dict[int | None, dict[str, str]] = {}
    for place, entry in (erasures or {}).items():
        where, _, name = str(place).partition(":")
        sequence = None if where == "row" else int(where) if where.isdigit() else -1
        why = entry.get("why") if isinstance(entry, Mapping) else None
        found.setdefault(sequence, {})[name] = why
    return found


def event_content(event) -> dict:
    """The fields of an event that its seal protects, in a form that survives a database trip:
    its texts by their commitments only."""
    return {
        "difference_id": event.difference_id,
        "sequence": event.sequence,
        "position": event.position,
        "kind": str(event.kind),
        "actor_id": event.actor_id,
        "at": event.at.astimezone(UTC).isoformat(),
        "stage_level": event.stage_level,
        "deadline": event.deadline.astimezone(UTC).isoformat() if event.deadline else None,
        "data": event.data,
        "text_seals": getattr(event, "text_seals", None) or {},
        "difference_digest": event.difference_digest,
        "key_id": event.key_id,
    }


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def seal_of(event, keys: KeyRing) -> str | None:
    """The seal an event should carry, or None if it names a key the ring does not hold."""
    key = keys.keys.get(event.key_id)
    if key is None:
        return None
    message = "\n".join(
        (SCHEME, event.previous_seal, event.preceding_seal, _canonical(event_content(event)))
    )
    return _mac(key, message)


def seal(event, keys: KeyRing, *, previous_seal: str, preceding_seal: str) -> None:
    """Seal a new event after its difference's previous event and the record's last event."""
    event.key_id = keys.current
    event.previous_seal = previous_seal
    event.preceding_seal = preceding_seal
    event.seal = seal_of(event, keys)


@dataclass(frozen=True)
class Verification:
    """The verdict on one difference's history. ``record``: the problem is in the partnership's
    whole record (events gone from it, or it no longer reaches its checkpoint), not in this
    difference's own events, so no history can be relied on until it is explained."""

    ok: bool
    broken_at: int | None = None  # the sequence number of the first event that does not verify
    reason: str = ""
    record: bool = False


VERIFIED = Verification(True)


def check_event(event, sequence: int, previous_seal: str, keys: KeyRing) -> Verification | None:
    """What is wrong with one event that should follow ``sequence`` (sealed ``previous_seal``)
    in its difference's history, or None."""
    expected = seal_of(event, keys)
    if expected is None:
        return Verification(False, event.sequence, UNKNOWN_KEY)
    if not hmac.compare_digest(expected, event.seal or ""):
        return Verification(False, event.sequence, ALTERED)
    if event.sequence > sequence + 1:
        return Verification(False, sequence + 1, MISSING)
    if event.sequence <= sequence:
        return Verification(False, event.sequence, OUT_OF_ORDER)
    if event.previous_seal != previous_seal:
        return Verification(False, event.sequence, BROKEN_LINK)
    return None


def check_texts(event, keys: KeyRing, erased=None) -> Verification | None:
    """What is wrong with an event's texts (``erased``: as ``erased_in`` gives them for its
    difference), or None."""
    problem = texts_hold(
        getattr(event, "texts", None),
        getattr(event, "text_seals", None),
        keys,
        (erased or {}).get(event.sequence),
    )
    return None if problem is None else Verification(False, event.sequence, problem)


def verify(
    events: Sequence, keys: KeyRing, row_digest: str | None = None, *, erasures=None, row=None
) -> Verification:
    """Check one difference's events (in sequence order) against their seals and each other,
    and their texts against their commitments; with ``row_digest``, that its row is as its
    latest event left it, and with ``row`` (its texts and ``text_seals``), its texts too."""
    erased = erased_in(erasures)
    sequence, previous = 0, GENESIS
    for event in events:
        problem = check_event(event, sequence, previous, keys) or check_texts(event, keys, erased)
        if problem is not None:
            return problem
        sequence, previous = event.sequence, event.seal
    if not events:
        return Verification(False, 1, NO_HISTORY)
    if row_digest is not None and events[-1].difference_digest != row_digest:
        return Verification(False, events[-1].sequence, ROW_CHANGED)
    if row is not None and row_texts_hold(row, keys) is not None:
        return Verification(False, events[-1].sequence, ROW_CHANGED)
    return VERIFIED


def row_texts_hold(row, keys: KeyRing) -> str | None:
    """None if a difference row's texts match their commitments (``row``: anything with the
    DIFFERENCE_TEXTS and ``text_seals`` as attributes)."""
    texts = {name: getattr(row, name) or "" for name in DIFFERENCE_TEXTS}
    return texts_hold(texts, row.text_seals, keys)


# --- The whole record, event by event in the order of their positions -------------------------


@dataclass
class Trail:
    """How far one difference's history has got in a walk through the record."""

    sequence: int = 0
    seal: str = GENESIS
    digest: str | None = None
    events: int = 0
    problem: Verification | None = None


@dataclass(frozen=True)
class RecordProblem:
    """Something wrong with the partnership's whole record rather than one difference's events."""

    reason: str
    position: int | None = None


@dataclass(frozen=True)
class Checkpoint:
    """How far the record had got when a checkpoint was written, as the checkpoint log says."""

    position: int
    seal: str
    at: str
    fingerprint: str | None = None  # of every event up to ``position``
    fingerprint_base: tuple[int, str] | None = None  # where a later fingerprint carries on

    @classmethod
    def from_line(cls, line: Mapping) -> "Checkpoint":
        base = line.get("fingerprint_base")
        return cls(
            line["position"],
            line["seal"],
            line["at"],
            line.get("fingerprint"),
            (base[0], base[1]) if isinstance(base, list | tuple) and len(base) == 2 else None,
        )


@dataclass
class Walk:
    """Verify events one at a time in the order of their positions, as they stream from the
    database, keeping only each difference's latest seal. Start at a checkpoint (``position``
    and ``seal``) to verify what came after it."""

    keys: KeyRing
    position: int = 0
    seal: str = GENESIS
    checkpoint: Checkpoint | None = None
    trails: dict[int, Trail] = field(default_factory=dict)
    problems: list[RecordProblem] = field(default_factory=list)
    events: int = 0
    seal_at_checkpoint: str | None = None

    def __post_init__(self):
        if self.checkpoint is not None and self.checkpoint.position == self.position:
            self.seal_at_checkpoint = self.seal

    def resume(self, difference_id: int, *, sequence: int, seal: str, digest, events: int):
        """Start a difference's trail from its last event before the walk began."""
        self.trails[difference_id] = Trail(sequence, seal, digest, events)

    def add(self, event) -> None:
        self.events += 1
        self._place(event)
        trail = self.trails.setdefault(event.difference_id, Trail())
        trail.events += 1
        problem = check_event(event, trail.sequence, trail.seal, self.keys)
        if problem is not None and trail.problem is None:
            trail.problem = problem
        trail.sequence = max(trail.sequence, event.sequence)
        trail.seal, trail.digest = event.seal, event.difference_digest

    def _place(self, event) -> None:
        expected = self.position + 1
        if event.position < expected:
            self.problems.append(
                RecordProblem("two events hold the same place in the record", event.position)
            )
            return
        if event.position > expected:
            self.problems.append(RecordProblem(_missing(expected, event.position - 1), expected))
        elif event.preceding_seal != self.seal:
            self.problems.append(
                RecordProblem(
                    "the event before it in the record is not the one it was sealed after",
                    event.position,
                )
            )
        self.position, self.seal = event.position, event.seal
        if self.checkpoint is not None and event.position == self.checkpoint.position:
            self.seal_at_checkpoint = event.seal

    def finish(self, head) -> None:
        """Compare where the walk ended with the record's head row and the checkpoint."""
        if head is None:
            if self.position:
                self.problems.append(RecordProblem("the record's head is missing"))
        elif head.position > self.position:
            self.problems.append(
                RecordProblem(_missing(self.position + 1, head.position), self.position + 1)
            )
        elif head.position < self.position or head.seal != self.seal:
            self.problems.append(
                RecordProblem(
                    "the record's last event is not the one its head names", head.position
                )
            )
        self.problems.extend(
            against_checkpoint(self.checkpoint, self.position, self.seal_at_checkpoint)
        )

    def verdict(self, difference_id: int, digest: str, latest=None) -> Verification:
        """The verdict on a difference whose row has this digest. ``latest``: its latest
        event's (sequence, digest), for a difference whose events all came before the
        checkpoint the walk started from."""
        trail = self.trails.get(difference_id)
        if trail is not None and trail.problem is not None:
            return trail.problem
        if trail is not None and trail.events:
            sequence, sealed = trail.sequence, trail.digest
        elif latest is not None and latest[0] is not None:
            sequence, sealed = latest
        else:
            return Verification(False, 1, NO_HISTORY)
        if sealed != digest:
            return Verification(False, sequence, ROW_CHANGED)
        return VERIFIED


def against_checkpoint(checkpoint: Checkpoint | None, last: int, seal_there: str | None):
    """Problems if the record (ending at position ``last``, sealed ``seal_there`` at the
    checkpoint's position) no longer reaches its checkpoint or differs at it."""
    if checkpoint is None:
        return []
    if last < checkpoint.position:
        return [
            RecordProblem(
                f"the record ends at position {last}, before the checkpoint of {checkpoint.at} "
                f"at position {checkpoint.position}: events were removed",
                last + 1,
            )
        ]
    if seal_there != checkpoint.seal:
        return [
            RecordProblem(
                f"the event here is not the one the checkpoint of {checkpoint.at} recorded",
                checkpoint.position,
            )
        ]
    return []


def _missing(first: int, last: int) -> str:
    if first == last:
        return "an event is missing from the record"
    return f"{last - first + 1} events are missing from the record (positions {first} to {last})"


# --- Checkpoints ------------------------------------------------------------------------------


def sign_checkpoint(line: Mapping, keys: KeyRing) -> dict:
    """The checkpoint line with the current key's id and its signature."""
    signed = {k: v for k, v in line.items() if k != "signature"} | {"key_id": keys.current}
    signed["signature"] = _mac(
        keys.keys[keys.current], f"{CHECKPOINT_SCHEME}\n{_canonical(signed)}"
    )
    return signed


def checkpoint_signed(line: Mapping, keys: KeyRing) -> bool:
    """Whether a checkpoint line was signed by a key of the ring and not changed since."""
    key = keys.keys.get(line.get("key_id"))
    if key is None or not isinstance(line.get("signature"), str):
        return False
    unsigned = {k: v for k, v in line.items() if k != "signature"}
    expected = _mac(key, f"{CHECKPOINT_SCHEME}\n{_canonical(unsigned)}")
    return hmac.compare_digest(expected, line["signature"])

