"""Checkpoints of the history, and sealing every history again.

A checkpoint says how far the partnership's whole record had got: the last event's position and
seal, and a fingerprint of every event up to it, signed with the history key and appended to the
checkpoint log outside the database (`flask escalate checkpoint`, and the worker each round).
Once a day the latest is emailed to the auditors; if the record no longer verifies, they are
emailed at once. Neither email goes through the outbox, which lives in the database the
checkpoints guard.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa
from flask import current_app

from escalate import checkpoint_log, history, notify, queries
from escalate.extensions import db
from escalate.history import GENESIS, KeyRing
from escalate.models import Difference, Event, HistoryHead

DAILY = timedelta(days=1)  # the whole record verified, and the auditors emailed
ALERT_PROBLEMS = 20  # problems an alert line and email list; verify-audit names them all


@dataclass
class CheckpointReport:
    """What one checkpoint run did."""

    written: dict | None = None  # the checkpoint line appended, if the record had moved on
    problems: list[str] = field(default_factory=list)  # why the record does not verify
    emailed: list[str] = field(default_factory=list)
    not_emailed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.written or self.problems or self.emailed or self.not_emailed)

    def __str__(self) -> str:
        parts = []
        if self.written:
            parts.append(
                f"checkpoint at position {self.written['position']} "
                f"({self.written['differences']} differences)"
            )
        if self.problems:
            parts.append(f"the history does not verify: {'; '.join(self.problems[:3])}")
        if self.emailed:
            parts.append(f"emailed to {', '.join(self.emailed)}")
        if self.not_emailed:
            parts.append(f"could not email {', '.join(self.not_emailed)}")
        return "; ".join(parts) or "nothing new"


def checkpoint(now: datetime, *, mailer: notify.Mailer | None = None, full=False, email=False):
    """Verify the history and, if it holds, append a signed checkpoint of how far it has got.

    Each call verifies what came after the last checkpoint; once a day (and with ``full``, every
    seal from the first) the whole record, every difference's row included. The auditors are
    emailed the latest checkpoint once a day (at once with ``email``). If the history does not
    verify, an alert is appended instead (once for the same findings) and emailed straight away.
    """
    keys, path = queries.histories.keyring(), queries.histories.log_path()
    whole = full or _due(path, now, lambda line: line.get("verified", {}).get("whole_record"))
    found = queries.histories.audit(full=full, trust_checkpoint=not whole, fingerprint=True)
    report = CheckpointReport()
    if not found.ok:
        report.problems = _describe(found)
        alert = _alert(path, keys, now, report.problems)
        if alert is not None and mailer is not None:
            _email_auditors(mailer, now, alert, report)
        return report
    previous = queries.histories.last_checkpoint(keys, path).checkpoint
    moved = previous is None or found.position != previous.position or (
        (queries.histories.last_checkpoint(keys, path).line or {}).get("access", {}).get(
            "position"
        )
        != found.access_position
    )
    if (found.position or found.access_position) and (moved or whole):
        report.written = append(
            path,
            keys,
            {
                "kind": "checkpoint",
                "at": now.isoformat(),
                "position": found.position,
                "seal": found.seal,
                "fingerprint": found.fingerprint,
                "fingerprint_base": list(found.fingerprint_base),
                "access": {"position": found.access_position, "seal": found.access_seal},
                "differences": _count(Difference.id),
                "verified": {
                    "seals_from": found.checkpoint.position + 1 if found.checkpoint else 1,
                    "to": found.position,
                    "whole_record": whole,
                },
            },
        )
    due = email or _due(path, now, lambda line: line.get("kind") == "emailed")
    if mailer is not None and auditors() and due:
        latest = checkpoint_log.last(path, queries.histories.CHECKPOINT_KINDS)
        if latest is not None:
            _email_auditors(mailer, now, latest, report)
    return report


def _due(path: str, now: datetime, done) -> bool:
    """Whether a day has passed since the last line of the log that ``done`` picks out."""
    for line in checkpoint_log.backwards(path):
        if line is not None and done(line):
            try:
                return now - datetime.fromisoformat(line["at"]) >= DAILY
            except (KeyError, TypeError, ValueError):
                return True
    return True


def _count(column) -> int:
    return db.session.scalar(sa.select(sa.func.count(column)))


def _describe(found) -> list[str]:
    problems = [
        f"{check.reference}: event {check.verification.broken_at}: {check.verification.reason}"
        for check in found.altered
    ]
    for problem in found.record:
        where = f"position {problem.position}: " if problem.position else ""
        problems.append(f"the partnership's record: {where}{problem.reason}")
    for problem in found.access:
        where = f"position {problem.position}: " if problem.position else ""
        problems.append(f"the access log: {where}{problem.reason}")
    return problems


def _alert(path: str, keys: KeyRing, now: datetime, problems: list[str]) -> dict | None:
    """Append an alert, unless the last line already says the same; return it if appended."""
    digest = hashlib.sha256(json.dumps(problems).encode()).hexdigest()
    last = checkpoint_log.last(path)
    if last is not None and last.get("kind") == "alert" and last.get("digest") == digest:
        return None
    return append(
        path,
        keys,
        {
            "kind": "alert",
            "at": now.isoformat(),
            "problems": problems[:ALERT_PROBLEMS],
            "count": len(problems),
            "digest": digest,
        },
    )


def auditors() -> list[str]:
    """Who receives the checkpoints: HISTORY_AUDITORS. The addresses are configuration, not
    accounts, so that someone who can change the database cannot redirect them."""
    return list(current_app.config.get("HISTORY_AUDITORS") or ())


def _email_auditors(mailer: notify.Mailer, now: datetime, line: dict, report) -> None:
    delivered = []
    for address in auditors():
        try:
            mailer.sender.send(_message(mailer, address, now, line))
        except (notify.DeliveryError, OSError, ValueError) as error:
            current_app.logger.warning(
                "The history checkpoint to %s was not sent: %s", address, error
            )
            report.not_emailed.append(address)
        else:
            delivered.append(address)
    report.emailed.extend(delivered)
    if delivered and line.get("kind") != "alert":
        append(
            queries.histories.log_path(),
            queries.histories.keyring(),
            {"kind": "emailed", "at": now.isoformat(), "position": line.get("position"),
             "to": delivered},
        )


def _message(mailer: notify.Mailer, address: str, now: datetime, line: dict) -> EmailMessage:
    host = mailer.base_url.split("//")[-1].split("/")[0].split(":")[0] or "escalate.invalid"
    message = EmailMessage()
    message["From"] = mailer.from_address
    message["To"] = address
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=host)
    message["Auto-Submitted"] = "auto-generated"
    record = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if line.get("kind") == "alert":
        message["Subject"] = f"{mailer.service_name}: the history no longer verifies"
        problems = "\n".join(f"- {p}" for p in line.get("problems", []))
        message.set_content(
            f"escalate checked the partnership's history on {now:%d %B %Y at %H:%M} (UTC) and "
            f"found {line.get('count', 0)} problems, the first of them:\n\n{problems}\n\n"
            "Someone may have changed the database directly. Ask the system administrator to "
            "run `flask escalate verify-audit --full`, and keep this email: it is signed "
            f"evidence of what was found.\n\n{record}\n"
        )
        return message
    message["Subject"] = f"{mailer.service_name}: history checkpoint {line['position']}"
    message.set_content(
        f"The partnership's history as it stood on {line['at'][:16].replace('T', ' ')} (UTC): "
        f"{line['position']} events across {line.get('differences', 'its')} differences, the "
        f"last sealed {line['seal']}.\n\n"
        "Keep this email. It is signed with the history key, and it lets you prove later that "
        "nothing recorded by then was removed or changed: `flask escalate verify-audit` "
        "checks the database against it.\n\n"
        f"{record}\n"
    )
    return message


# --- Sealing every history again ---------------------------------------------------------------


def reseal_everything(now: datetime, *, reason: str) -> dict:
    """Seal every event again with the current key, in the order of the record, and commit;
    return the checkpoint line that records it. Verify everything first."""
    # Every event takes part: hold the record's head so no new one arrives meanwhile.
    db.session.execute(
        sa.update(HistoryHead).where(HistoryHead.id == 1).values(position=HistoryHead.position)
    )
    keys = queries.histories.keyring()
    # The rows' texts are committed to again with the new key, so their digests change too.
    line = reseal(db.session.connection(), keys, now, reason=reason, latest_digests_only=True)
    db.session.commit()
    return append(queries.histories.log_path(), keys, line)


def append(path: str, keys: KeyRing, line: dict) -> dict:
    """Sign a line after the log's last one and append it; return it as written."""
    return checkpoint_log.append(
        path,
        lambda last: history.sign_checkpoint(
            line | {"previous": last["signature"] if last else ""}, keys
        ),
    )


def reseal(
    connection,
    keys: KeyRing,
    now: datetime,
    *,
    reason: str,
    order: str = "position",
    latest_digests_only: bool = False,
    unverified=(),
    batch_size: int = 5000,
) -> dict:
    """Seal every event again with the current key, in ``order`` ("position", or "id" for
    events that have no position yet), numbering their positions 1, 2, 3…; return the
    checkpoint line that records it, for the caller to append once it has committed
    (``append``). Works on a connection, so that a migration can use it.

    Every text still there is committed to again with the current key (an event's free texts
    moved out of its data first, for histories sealed before texts were committed to); an
    erased text keeps the commitment it had. With ``latest_digests_only``, each difference's
    latest event vouches for its row as it stands and the earlier ones for nothing (histories
    sealed before rows were, or whose rows' commitments are made again here)."""
    table = Event.__table__
    present = {c["name"] for c in sa.inspect(connection).get_columns("event")}
    # A migration before the one that adds texts runs this on a database without them.
    with_texts = {"texts", "text_seals"} <= present
    fields = [name for name in _Sealing.FIELDS if name in present]
    columns = [table.c.id, *(table.c[name] for name in fields)]
    erased: dict[int, dict] = {}
    digests = {}
    if with_texts:
        erased = _recommit_rows(connection, keys)
    if latest_digests_only:
        digests = _latest_digests(connection)
    previous: dict[int, str] = {}
    position, preceding, after = 0, GENESIS, None
    key = table.c.position if order == "position" else table.c.id
    while True:
        query = sa.select(*columns, key.label("ordering")).order_by(key).limit(batch_size)
        if after is not None:
            query = query.where(key > after)
        rows = connection.execute(query).all()
        if not rows:
            break
        updates = []
        for row in rows:
            position += 1
            event = _Sealing(row, position)
            if with_texts:
                _recommit(event, keys, erased.get(row.difference_id, {}).get(row.sequence, {}))
            if latest_digests_only:
                event.difference_digest = digests.get(row.id)
            history.seal(
                event,
                keys,
                previous_seal=previous.get(row.difference_id, GENESIS),
                preceding_seal=preceding,
            )
            previous[row.difference_id] = preceding = event.seal
            updates.append(
                {
                    "event_id": row.id,
                    "position": position,
                    "difference_digest": event.difference_digest,
                    "key_id": event.key_id,
                    "previous_seal": event.previous_seal,
                    "preceding_seal": event.preceding_seal,
                    "seal": event.seal,
                }
                | (
                    {"data": event.data, "texts": event.texts, "text_seals": event.text_seals}
                    if with_texts
                    else {}
                )
            )
        values = {
            name: sa.bindparam(name)
            for name in (
                "position", "difference_digest", "key_id", "previous_seal", "preceding_seal",
                "seal", *(("data", "texts", "text_seals") if with_texts else ()),
            )
        }  # fmt: skip
        connection.execute(
            sa.update(table).where(table.c.id == sa.bindparam("event_id")).values(**values),
            updates,
        )
        after = rows[-1].ordering
    connection.execute(sa.delete(HistoryHead.__table__))
    connection.execute(
        sa.insert(HistoryHead.__table__).values(id=1, position=position, seal=preceding)
    )
    fingerprint, base = queries.histories.fingerprint_of(
        position,
        connection=connection,
        columns=[c for c in queries.histories.FINGERPRINTED if c.name in present],
    )
    differences = connection.execute(sa.select(sa.func.count(Difference.__table__.c.id))).scalar()
    return {
        "kind": "resealed",
        "at": now.isoformat(),
        "reason": reason,
        "position": position,
        "seal": preceding,
        "fingerprint": fingerprint,
        "fingerprint_base": list(base),
        "differences": differences,
        "unverified": sorted(unverified),
    }


def _recommit_rows(connection, keys: KeyRing) -> dict[int, dict]:
    """Commit to every difference row's texts again with the current key; return the erased
    texts of every difference that has any (``history.erased_in``)."""
    rows = Difference.__table__
    erased, updates = {}, []
    for row in connection.execute(
        sa.select(rows.c.id, rows.c.erasures, *(rows.c[n] for n in history.DIFFERENCE_TEXTS))
    ):
        if row.erasures:
            erased[row.id] = history.erased_in(row.erasures)
        texts = {name: getattr(row, name) or "" for name in history.DIFFERENCE_TEXTS}
        updates.append(
            {"difference_id": row.id, "text_seals": history.commit_texts(texts, keys)}
        )
    if updates:
        connection.execute(
            sa.update(rows)
            .where(rows.c.id == sa.bindparam("difference_id"))
            .values(text_seals=sa.bindparam("text_seals")),
            updates,
        )
    return erased


def _latest_digests(connection) -> dict[int, str]:
    """Each difference's latest event id -> the digest of its row as it now stands."""
    table, rows = Event.__table__, Difference.__table__
    present = {c["name"] for c in sa.inspect(connection).get_columns("difference")}
    text = queries.histories.as_stored(
        [rows.c[name] for name in history.DIFFERENCE_FIELDS if name in present],
        connection.dialect.name,
    )
    latest_ids = sa.select(sa.func.max(table.c.id)).group_by(table.c.difference_id)
    return {
        event_id: history.digest(stored)
        for event_id, stored in connection.execute(
            sa.select(table.c.id, text)
            .join(rows, rows.c.id == table.c.difference_id)
            .where(table.c.id.in_(latest_ids))
        )
    }


def _recommit(event, keys: KeyRing, erased: dict) -> None:
    """An event's free texts moved out of its data (if they are still there) and committed to
    again with the current key; an erased text keeps its commitment."""
    event.data, moved = history.split_texts(event.data or {})
    event.texts = {**(event.texts or {}), **moved}
    old = event.text_seals or {}
    event.text_seals = {
        name: old[name]
        if erased.get(name) and text == history.REMOVED.get(erased[name]) and name in old
        else history.commit(name, text, keys)
        for name, text in event.texts.items()
    }


class _Sealing:
    """An event row being sealed again, with its new position."""

    FIELDS = (
        "difference_id",
        "sequence",
        "kind",
        "actor_id",
        "at",
        "stage_level",
        "deadline",
        "data",
        "texts",
        "text_seals",
        "difference_digest",
    )

    def __init__(self, row, position: int):
        for name in self.FIELDS:
            setattr(self, name, getattr(row, name, None))
        self.position = position
