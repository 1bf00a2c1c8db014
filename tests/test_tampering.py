"""Someone who controls the database, but not the history key or the checkpoint log, changes the
history behind escalate's back with plain SQL, recomputing whatever seals they can. Every kind
of tampering below is found by `flask escalate verify-audit` (from the checkpoint, and --full),
which exits 1 naming it, and by the verdict on the difference pages.

The story is the hand-counted one of tests/oversight_fixture.py: A 3 events, B 3, C 8, D 1, E 1,
F 2, G 1, H 2; positions 1-8 are the raisings (A to H), 9-10 A's response and acceptance, 11-12
B's, 13-19 C's (its 19th, the partnership's decision), 20 F's response, 21 H's withdrawal. A
checkpoint is written before each tampering.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape as html_unescape
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from escalate import access_log, checkpoint_log, history, queries, services
from escalate.extensions import db
from escalate.models import AccessEntry, Difference, Event, HistoryHead, State, User
from tests import oversight_fixture as story_module
from tests.oversight_fixture import NOW

pytestmark = pytest.mark.tampers

EVENT = Event.__table__
DIFFERENCE = Difference.__table__
SEALED = (
    "id", "difference_id", "sequence", "position", "kind", "actor_id", "at", "stage_level",
    "deadline", "data", "difference_digest", "key_id", "previous_seal", "preceding_seal", "seal",
)  # fmt: skip


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def story(app, people, runner):
    with app.app_context():
        refs = story_module.build(people)
        db.session.remove()
    written = runner.invoke(args=["escalate", "checkpoint"])
    assert written.exit_code == 0, written.output
    return refs


# --- What an insider can do with SQL -----------------------------------------------------------


def sql(app, statement, **values):
    with app.app_context():
        db.session.execute(sa.text(statement) if isinstance(statement, str) else statement, values)
        db.session.commit()
        db.session.remove()


def row(app, reference, sequence):
    with app.app_context():
        found = db.session.execute(
            sa.select(EVENT.c.id, EVENT.c.position)
            .join(DIFFERENCE, DIFFERENCE.c.id == EVENT.c.difference_id)
            .where(DIFFERENCE.c.reference == reference, EVENT.c.sequence == sequence)
        ).one()
        db.session.remove()
    return found


def difference_id(app, reference) -> int:
    with app.app_context():
        found = db.session.scalar(
            sa.select(DIFFERENCE.c.id).where(DIFFERENCE.c.reference == reference)
        )
        db.session.remove()
    return found


def delete_events(app, *event_ids):
    for event_id in event_ids:
        sql(app, "DELETE FROM notification WHERE event_id = :e", e=event_id)
        sql(app, "DELETE FROM agreed_action WHERE event_id = :e", e=event_id)  # a response's
        sql(app, "DELETE FROM chronology_entry WHERE event_id = :e", e=event_id)  # an outcome's
        sql(app, "DELETE FROM event WHERE id = :e", e=event_id)


def unkeyed(message: str) -> str:
    """The old scheme: SHA-256 with no key, which anyone can recompute."""
    return hashlib.sha256(message.encode()).hexdigest()


def guessed(message: str) -> str:
    """A keyed MAC with the wrong key: the insider knows the algorithm, not the key."""
    return hmac.new(b"a key the insider guessed", message.encode(), hashlib.sha256).hexdigest()


def reseal_as_insider(app, mac, *, start: int = 1):
    """Recompute both chains from position ``start`` to the end with ``mac``, as escalate would
    with its key, and move the record's head to match: a consistent history, but for the key."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(*(EVENT.c[n] for n in SEALED)).order_by(EVENT.c.position)
        ).all()
        previous, preceding = {}, history.GENESIS
        for event in rows:
            if event.position >= start:
                forged = SimpleNamespace(**event._asdict())
                forged.previous_seal = previous.get(event.difference_id, history.GENESIS)
                forged.preceding_seal = preceding
                message = "\n".join(
                    (
                        history.SCHEME,
                        forged.previous_seal,
                        forged.preceding_seal,
                        history._canonical(history.event_content(forged)),
                    )
                )
                seal = mac(message)
                db.session.execute(
                    sa.update(EVENT)
                    .where(EVENT.c.id == event.id)
                    .values(
                        previous_seal=forged.previous_seal,
                        preceding_seal=forged.preceding_seal,
                        seal=seal,
                    )
                )
            else:
                seal = event.seal
            previous[event.difference_id] = preceding = seal
        db.session.execute(
            sa.update(HistoryHead.__table__).values(position=rows[-1].position, seal=preceding)
        )
        db.session.commit()
        db.session.remove()


def shift(app, column: str, where: str, by: int, **values):
    """Renumber with a unique column in the way: up out of reach, then down into place."""
    up = f"UPDATE event SET {column} = {column} + 100000 WHERE {where}"  # noqa: S608
    down = f"UPDATE event SET {column} = {column} - 100000 + :by WHERE {column} > 100000"  # noqa: S608
    sql(app, up, **values)
    sql(app, down, by=by)


def restore_row(app, reference, **fields):
    """Put a difference's row back as an earlier event left it (the insider saw it then)."""
    sql(
        app,
        sa.update(DIFFERENCE).where(DIFFERENCE.c.reference == reference).values(**fields),
    )


# --- The tamperings -------------------------------------------------------------------------


def delete_decision(app, refs):
    delete_events(app, row(app, refs["C"], 8).id)


def delete_last_three(app, refs):
    delete_events(app, *(row(app, refs["C"], s).id for s in (6, 7, 8)))


def delete_whole_difference(app, refs):
    d = difference_id(app, refs["D"])
    sql(app, "DELETE FROM notification WHERE difference_id = :d", d=d)
    for table in (
        "supporter", "proposal", "chronology_entry", "agreed_action", "professionals_meeting",
        "involvement",
    ):
        sql(app, f"DELETE FROM {table} WHERE difference_id = :d", d=d)  # noqa: S608
    for table in ("stage_alert", "assignment", "extension_request"):
        sql(app, f"DELETE FROM {table} WHERE stage_id IN "  # noqa: S608 (names of tables)
            "(SELECT id FROM stage WHERE difference_id = :d)", d=d)  # fmt: skip
    sql(app, "DELETE FROM stage WHERE difference_id = :d", d=d)
    sql(app, "DELETE FROM event WHERE difference_id = :d", d=d)
    sql(app, "DELETE FROM difference WHERE id = :d", d=d)


def rewrite_rationale_unkeyed(app, refs):
    changed = row(app, refs["B"], 2)
    data = {"outcome": "agreed", "rationale": "Changed afterwards.", "child_impact": "",
            "agreed_actions": ""}  # fmt: skip
    sql(app, sa.update(EVENT).where(EVENT.c.id == changed.id).values(data=data))
    reseal_as_insider(app, unkeyed, start=changed.position)


def rewrite_actor_guessed_key(app, refs):
    changed = row(app, refs["C"], 1)
    sql(app, "UPDATE event SET actor_id = :someone WHERE id = :e", someone=1, e=changed.id)
    reseal_as_insider(app, guessed, start=changed.position)


def rewrite_time_guessed_key(app, refs):
    changed = row(app, refs["A"], 3)
    with app.app_context():
        at = db.session.scalar(sa.select(Event.at).where(Event.id == changed.id))
        db.session.remove()
    sql(app, sa.update(EVENT).where(EVENT.c.id == changed.id).values(at=at - timedelta(days=1)))
    reseal_as_insider(app, guessed, start=changed.position)


def reorder_and_reseal(app, refs):
    c = difference_id(app, refs["C"])
    second, third = row(app, refs["C"], 2), row(app, refs["C"], 3)
    sql(app, "UPDATE event SET sequence = 1000 WHERE id = :e", e=second.id)
    sql(app, "UPDATE event SET sequence = 2 WHERE id = :e", e=third.id)
    sql(app, "UPDATE event SET sequence = 3 WHERE id = :e AND difference_id = :c", e=second.id,
        c=c)  # fmt: skip
    reseal_as_insider(app, guessed, start=second.position)


def remove_and_renumber(app, refs):
    c = difference_id(app, refs["C"])
    gone = row(app, refs["C"], 4)
    delete_events(app, gone.id)
    shift(app, "sequence", "difference_id = :c AND sequence > 4", -1, c=c)
    shift(app, "position", "position > :p", -1, p=gone.position)
    reseal_as_insider(app, guessed, start=gone.position)


def state_changed(app, refs):
    restore_row(app, refs["F"], state=State.RESOLVED.value)


def outcome_changed(app, refs):
    restore_row(app, refs["C"], outcome="agreed")


def rewrite_rationale_in_place(app, refs):
    changed = row(app, refs["B"], 2)
    data = {"outcome": "agreed", "rationale": "Changed afterwards.", "child_impact": "",
            "agreed_actions": ""}  # fmt: skip
    sql(app, sa.update(EVENT).where(EVENT.c.id == changed.id).values(data=data))


def rewrite_actor_in_place(app, refs):
    sql(app, "UPDATE event SET actor_id = 1 WHERE id = :e", e=row(app, refs["C"], 1).id)


def delete_middle_event(app, refs):
    delete_events(app, row(app, refs["C"], 4).id)


def delete_record_tail_and_replay(app, refs):
    # H's withdrawal is the record's last event: remove it, put H's row back as it was when
    # raised, and move the record's head back. Only the checkpoint remembers position 21.
    h_id = difference_id(app, refs["H"])
    delete_events(app, row(app, refs["H"], 2).id)
    restore_row(
        app,
        refs["H"],
        state=State.AWAITING_RESPONSE.value,
        outcome=None,
        closed_at=None,
        resolution_working_days=None,
    )
    with app.app_context():
        last = db.session.execute(
            sa.select(Event.position, Event.seal).where(Event.position == 20)
        ).one()
        h = db.session.get(Difference, h_id)
        keys = history.KeyRing.from_config(app.config)
        assert history.verify(h.events, keys, queries.histories.row_digest(h_id)).ok
        db.session.remove()
    sql(app, sa.update(HistoryHead.__table__).values(position=last.position, seal=last.seal))


def delete_response_and_replay(app, refs):
    # F's response is not the last event: its row is put back as raised, its history looks whole.
    delete_events(app, row(app, refs["F"], 2).id)
    restore_row(app, refs["F"], state=State.AWAITING_RESPONSE.value)


def reseal_everything_guessed_key(app, refs):
    changed = row(app, refs["H"], 2).id
    sql(app, sa.update(EVENT).where(EVENT.c.id == changed).values(data={"rationale": "Never."}))
    reseal_as_insider(app, guessed)


def forge_an_event(app, refs):
    e = difference_id(app, refs["E"])
    first = row(app, refs["E"], 1)
    with app.app_context():
        previous_seal = db.session.scalar(sa.select(Event.seal).where(Event.id == first.id))
        head = db.session.execute(sa.select(HistoryHead.position, HistoryHead.seal)).one()
        key_id = db.session.scalar(sa.select(Event.key_id).limit(1))
        db.session.remove()
    forged = SimpleNamespace(
        difference_id=e, sequence=2, position=head.position + 1, kind="withdrawn",
        actor_id=None, at=NOW, stage_level=1, deadline=None,
        data={"rationale": "Withdrawn, the insider says."}, difference_digest=None,
        key_id=key_id, previous_seal=previous_seal, preceding_seal=head.seal,
    )  # fmt: skip
    message = "\n".join((history.SCHEME, previous_seal, head.seal,
                         history._canonical(history.event_content(forged))))  # fmt: skip
    forged.seal = guessed(message)
    sql(app, sa.insert(EVENT).values(**vars(forged)))
    sql(app, sa.update(HistoryHead.__table__).values(position=forged.position, seal=forged.seal))


def reasons_rewritten(app, refs):
    restore_row(app, refs["A"], reasons="The raiser never said the threshold was met.")


def event_moved(app, refs):
    sql(app, "UPDATE event SET difference_id = :e WHERE id = :moved",
        e=difference_id(app, refs["E"]), moved=row(app, refs["B"], 3).id)  # fmt: skip


def new_event_rewritten(app, refs):
    # After the checkpoint: E is answered through escalate, then its answer rewritten in SQL.
    with app.app_context():
        e = db.session.get(Difference, difference_id(app, refs["E"]))
        services.differences.respond(
            db.session.scalar(sa.select(User).where(User.email == "gp@gp.example")),
            e.id,
            e.version,
            outcome="upheld",
            rationale="The information was shared on the day it was asked for.",
            child_impact="Nothing changes for the child.",
            now=NOW,
        )
        db.session.remove()
    sql(app, "UPDATE event SET actor_id = 1 WHERE id = :e", e=row(app, refs["E"], 2).id)


def key_id_changed(app, refs):
    sql(app, "UPDATE event SET key_id = 'kforgedkey00000' WHERE id = :e",
        e=row(app, refs["G"], 1).id)  # fmt: skip


@dataclass(frozen=True)
class Tampering:
    name: str
    do: object
    page: str  # whose difference page is checked
    says: tuple[str, ...]  # what verify-audit says on stderr (patterns, with the references)
    record: bool = False  # the page speaks of the whole record, not this difference's events


ALTERED = "the event was altered after it was written"
ROW = "the difference's details, state, stage or outcome were changed after this event"
GAP = "an event is missing from the record"
TAMPERINGS = [
    # The eleven, and the three the unkeyed chain already found.
    Tampering(
        "the last event (the decision) deleted",
        delete_decision,
        "C",
        ("{C}: event 7: " + ROW, "position 19: " + GAP),
    ),
    Tampering(
        "the last three events deleted",
        delete_last_three,
        "C",
        ("{C}: event 5: " + ROW, "3 events are missing from the record"),
    ),
    Tampering(
        "a whole difference deleted with its events",
        delete_whole_difference,
        "A",
        ("position 4: " + GAP,),
        record=True,
    ),
    Tampering(
        "a rationale rewritten, every later seal recomputed without a key",
        rewrite_rationale_unkeyed,
        "B",
        ("{B}: event 2: " + ALTERED,),
    ),
    Tampering(
        "an actor rewritten, seals recomputed with a guessed key",
        rewrite_actor_guessed_key,
        "C",
        ("{C}: event 1: " + ALTERED,),
    ),
    Tampering(
        "a time rewritten, seals recomputed with a guessed key",
        rewrite_time_guessed_key,
        "A",
        ("{A}: event 3: " + ALTERED,),
    ),
    Tampering(
        "events reordered, seals recomputed",
        reorder_and_reseal,
        "C",
        ("{C}: event [23]: " + ALTERED,),
    ),
    Tampering(
        "an event removed, the rest renumbered, seals recomputed",
        remove_and_renumber,
        "C",
        (
            "{C}: event 4: " + ALTERED,
            "before the checkpoint of .* at position 21: events were removed",
        ),
    ),
    Tampering("the difference row's state changed", state_changed, "F", ("{F}: event 2: " + ROW,)),
    Tampering(
        "the difference row's outcome changed", outcome_changed, "C", ("{C}: event 8: " + ROW,)
    ),
    Tampering(
        "a rationale rewritten in place",
        rewrite_rationale_in_place,
        "B",
        ("{B}: event 2: " + ALTERED,),
    ),
    Tampering(
        "an actor rewritten in place", rewrite_actor_in_place, "C", ("{C}: event 1: " + ALTERED,)
    ),
    Tampering(
        "an event in the middle deleted",
        delete_middle_event,
        "C",
        ("{C}: event 4: an event is missing",),
    ),
    # And more that an insider could try.
    Tampering(
        "the record's last event deleted, its row and the head put back",
        delete_record_tail_and_replay,
        "H",
        ("the record ends at position 20, before the checkpoint of .* at position 21",),
        record=True,
    ),
    Tampering(
        "an earlier event deleted and its row put back",
        delete_response_and_replay,
        "F",
        ("position 20: " + GAP,),
        record=True,
    ),
    Tampering(
        "the whole record re-sealed with a guessed key",
        reseal_everything_guessed_key,
        "H",
        (
            "{A}: event 1: " + ALTERED,
            "{H}: event 1: " + ALTERED,
            "is not the one the checkpoint of .* recorded",
        ),
    ),
    Tampering(
        "an event forged at the end with a guessed key",
        forge_an_event,
        "E",
        ("{E}: event 2: " + ALTERED,),
    ),
    Tampering(
        "the raiser's reasons rewritten in the difference row",
        reasons_rewritten,
        "A",
        ("{A}: event 3: " + ROW,),
    ),
    Tampering(
        "an event moved to another difference",
        event_moved,
        "E",
        ("{E}: event 3: " + ALTERED, "{B}: event 2: " + ROW),
    ),
    Tampering(
        "an event written after the checkpoint rewritten",
        new_event_rewritten,
        "E",
        ("{E}: event 2: " + ALTERED,),
    ),
    Tampering(
        "an event's key id changed",
        key_id_changed,
        "G",
        ("{G}: event 1: the event is sealed with a key escalate does not hold",),
    ),
]


def verdict_on_page(browser, reference) -> str:
    html = browser.get(f"/differences/{reference}").get_data(as_text=True)
    block = html.split('id="history-verification"')[1].split("</div>")[0]
    return " ".join(html_unescape(block).replace("<", " <").split())


def test_nothing_is_reported_when_nothing_was_touched(people, client_for, runner, story):
    for args in (["verify-audit"], ["verify-audit", "--full"]):
        result = runner.invoke(args=["escalate", *args])
        assert result.exit_code == 0, result.output
    assert "History verified" in verdict_on_page(client_for(people.auditor), story["C"])


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=[t.name for t in TAMPERINGS])
def test_every_tampering_is_found(app, people, client_for, runner, story, tampering):
    tampering.do(app, story)

    for mode in ([], ["--full"]):
        result = runner.invoke(args=["escalate", "verify-audit", *mode])
        assert result.exit_code == 1, (mode, result.output)
        assert result.stdout == ""
        for pattern in tampering.says:
            expected = pattern.format(**{k: re.escape(v) for k, v in story.items()})
            assert re.search(expected, result.stderr), (mode, expected, result.stderr)
    verdict = verdict_on_page(client_for(people.auditor), story[tampering.page])
    if tampering.record:
        assert "The partnership's record was altered" in verdict, verdict
    else:
        assert "This history was altered: event" in verdict, verdict
    assert "History verified" not in verdict


def test_a_page_counts_the_record_up_to_the_checkpoint_once_in_the_workers_interval(
    app, people, client_for, story, monkeypatch
):
    """Counting every event of the record reads all of it (23 ms at 100,000 differences), so a
    page counts those up to the last checkpoint once in the worker's interval, and those after
    it each time: a difference deleted before the checkpoint shows on the pages at most one
    interval later."""
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda _c, _cur, statement, *_: statements.append(statement)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    clock = [1000.0]
    monkeypatch.setattr(queries.histories.time, "monotonic", lambda: clock[0])
    auditor = client_for(people.auditor)
    try:
        for _ in range(3):
            assert "History verified" in verdict_on_page(auditor, story["A"])
        delete_whole_difference(app, story)
        still = verdict_on_page(auditor, story["A"])
        clock[0] += app.config["WORKER_INTERVAL"]
        later = verdict_on_page(auditor, story["A"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)

    def counting(comparison):
        return [s for s in statements if "count(event.id)" in s and comparison in s]

    assert len(counting("event.position <=")) == 2  # the first page, and one interval later
    assert len(counting("event.position >")) == 5  # every page
    assert "History verified" in still
    assert "The partnership's record was altered" in later


def test_every_kind_of_tampering_listed_is_a_different_one():
    assert len({t.do for t in TAMPERINGS}) == len(TAMPERINGS) == 21


def test_the_checkpoint_notices_the_record_no_longer_reaching_it(app, runner, story):
    delete_record_tail_and_replay(app, story)

    result = runner.invoke(args=["escalate", "checkpoint"])

    assert result.exit_code == 1
    assert "before the checkpoint" in result.stderr or "not the one the checkpoint" in result.stderr
    log = checkpoint_log.lines(app.config["HISTORY_CHECKPOINT_LOG"])
    assert [line["kind"] for line in log] == ["checkpoint", "alert"]
    again = runner.invoke(args=["escalate", "checkpoint"])
    assert again.exit_code == 1
    assert len(checkpoint_log.lines(app.config["HISTORY_CHECKPOINT_LOG"])) == 2  # said once


# --- After texts were erased, and the access log ---------------------------------------------
# B's response (event 2) is corrected by the partnership (event 4, position 22) and H, withdrawn,
# is anonymised under the retention policy seven years on (event 3, position 23); three pages are
# viewed (the access log's positions 1 to 3); then a checkpoint is written.

LATER = NOW.replace(year=NOW.year + 7)
ERASED = history.REMOVED[history.RETENTION]


@pytest.fixture
def erased_story(app, people, runner, client_for, story):
    with app.app_context():
        b = db.session.scalar(sa.select(Difference).where(Difference.reference == story["B"]))
        chair = db.session.get(User, people.chair.id)
        services.retention.correct_entry(
            chair, b.id, b.version, entry="2:rationale", corrected_text="",
            rationale="A parent's full name was typed into the reasons by mistake.", now=NOW,
        )  # fmt: skip
        assert services.retention.anonymise(difference_id(app, story["H"]), LATER, 6)
        db.session.commit()
        db.session.remove()
    for person, reference in ((people.gp, story["A"]), (people.chair, story["B"]),
                              (people.auditor, story["H"])):  # fmt: skip
        assert client_for(person).get(f"/differences/{reference}").status_code == 200
    written = runner.invoke(args=["escalate", "checkpoint"])
    assert written.exit_code == 0, written.output
    return story


def event_texts(app, reference, sequence) -> dict:
    with app.app_context():
        found = db.session.execute(
            sa.select(EVENT.c.id, EVENT.c.texts, EVENT.c.text_seals)
            .join(DIFFERENCE, DIFFERENCE.c.id == EVENT.c.difference_id)
            .where(DIFFERENCE.c.reference == reference, EVENT.c.sequence == sequence)
        ).one()
        db.session.remove()
    return found


def set_text(app, reference, sequence, name, text):
    found = event_texts(app, reference, sequence)
    texts = dict(found.texts) | {name: text}
    sql(app, sa.update(EVENT).where(EVENT.c.id == found.id).values(texts=texts))


def erased_text_put_back(app, refs):
    set_text(app, refs["B"], 2, "rationale", "The stepfather's name, as first typed.")


def text_erased_without_a_record(app, refs):
    set_text(app, refs["C"], 8, "rationale", ERASED)


def erasure_forged(app, refs):
    set_text(app, refs["A"], 2, "rationale", ERASED)
    sql(app, sa.update(DIFFERENCE).where(DIFFERENCE.c.reference == refs["A"]).values(
        erasures={"2:rationale": {"why": history.RETENTION, "by": 4}}))  # fmt: skip


def anonymised_row_rewritten(app, refs):
    restore_row(app, refs["H"], reasons="The reasons, typed back in after they were erased.")


def commitment_replaced(app, refs):
    found = event_texts(app, refs["C"], 8)
    nonce = "0" * 32
    forged = guessed(f"{history.TEXT_SCHEME}\nrationale\n{nonce}\nAnother rationale entirely.")
    key = next(iter(found.text_seals.values())).split(".")[0]
    seals = dict(found.text_seals) | {"rationale": f"{key}.{nonce}.{forged}"}
    texts = dict(found.texts) | {"rationale": "Another rationale entirely."}
    sql(app, sa.update(EVENT).where(EVENT.c.id == found.id).values(text_seals=seals, texts=texts))


def access_altered(app, refs):
    sql(app, "UPDATE access_entry SET user_id = 1 WHERE position = 2")


def access_deleted(app, refs):
    sql(app, "DELETE FROM access_entry WHERE position = 2")


def access_tail_deleted(app, refs):
    with app.app_context():
        second = db.session.scalar(sa.text("SELECT seal FROM access_entry WHERE position = 2"))
        db.session.remove()
    sql(app, "DELETE FROM access_entry WHERE position = 3")
    sql(app, "UPDATE access_head SET position = 2, seal = :s", s=second)


def access_resealed(app, refs):
    with app.app_context():
        table = AccessEntry.__table__
        rows = db.session.execute(sa.select(table).order_by(table.c.position)).mappings().all()
        db.session.remove()
    previous = history.GENESIS
    for entry in rows:
        forged = SimpleNamespace(**entry)
        forged.user_id = user_id = 1 if entry["position"] == 1 else entry["user_id"]
        forged.previous_seal = previous
        message = "\n".join((access_log.ACCESS_SCHEME, previous,
                             history._canonical(access_log.access_content(forged))))  # fmt: skip
        previous = guessed(message)
        sql(app, "UPDATE access_entry SET user_id = :u, previous_seal = :p, seal = :s "
                 "WHERE position = :n", u=user_id, p=forged.previous_seal, s=previous,
            n=entry["position"])  # fmt: skip
    sql(app, "UPDATE access_head SET seal = :s", s=previous)


def access_forged(app, refs):
    with app.app_context():
        head = db.session.execute(sa.text("SELECT position, seal FROM access_head")).one()
        key_id = db.session.scalar(sa.text("SELECT key_id FROM access_entry LIMIT 1"))
        db.session.remove()
    forged = SimpleNamespace(
        position=head.position + 1, at=NOW, user_id=1, kind="viewed_report",
        difference_id=None, what="The dashboard", key_id=key_id, previous_seal=head.seal,
    )  # fmt: skip
    content = history._canonical(access_log.access_content(forged))
    forged.seal = guessed("\n".join((access_log.ACCESS_SCHEME, head.seal, content)))
    sql(app, sa.insert(AccessEntry.__table__).values(**vars(forged)))
    sql(app, "UPDATE access_head SET position = :p, seal = :s", p=forged.position, s=forged.seal)


ACCESS_LOG = "The access log: "
AFTER_ERASURE = [
    Tampering("an erased text put back", erased_text_put_back, "B", ("{B}: event 2: " + ALTERED,)),
    Tampering(
        "a text replaced by the words of erasure with no erasure recorded",
        text_erased_without_a_record,
        "C",
        ("{C}: event 8: " + ALTERED,),
    ),
    Tampering(
        "an erasure forged in the difference's record",
        erasure_forged,
        "A",
        ("{A}: event 3: " + ROW,),
    ),
    Tampering(
        "an anonymised difference's text rewritten",
        anonymised_row_rewritten,
        "H",
        ("{H}: event 3: " + ROW,),
    ),
    Tampering(
        "a text and its commitment replaced with a guessed key",
        commitment_replaced,
        "C",
        ("{C}: event 8: " + ALTERED,),
    ),
]
ACCESS_TAMPERINGS = [
    Tampering(
        "an access log entry altered",
        access_altered,
        "",
        (ACCESS_LOG + "position 2: an entry of the access log was altered",),
    ),
    Tampering(
        "an access log entry deleted",
        access_deleted,
        "",
        (ACCESS_LOG + "position 2: an entry of the access log is missing",),
    ),
    Tampering(
        "the access log's last entry deleted and its head moved back",
        access_tail_deleted,
        "",
        (ACCESS_LOG + "position 3: the access log ends at position 2, before the checkpoint",),
    ),
    Tampering(
        "the access log sealed again with a guessed key",
        access_resealed,
        "",
        (ACCESS_LOG + "position 1: an entry of the access log was altered",),
    ),
    Tampering(
        "an access log entry forged at the end",
        access_forged,
        "",
        (ACCESS_LOG + "position 4: an entry of the access log was altered",),
    ),
]


def test_after_erasure_the_history_and_the_access_log_still_verify(
    people, client_for, runner, erased_story
):
    for args in (["verify-audit"], ["verify-audit", "--full"]):
        result = runner.invoke(args=["escalate", *args])
        assert result.exit_code == 0, result.output
    for reference in (erased_story["B"], erased_story["H"], erased_story["C"]):
        assert "History verified" in verdict_on_page(client_for(people.auditor), reference)


@pytest.mark.parametrize(
    "tampering",
    AFTER_ERASURE + ACCESS_TAMPERINGS,
    ids=[t.name for t in AFTER_ERASURE + ACCESS_TAMPERINGS],
)
def test_tampering_after_erasure_and_with_the_access_log_is_found(
    app, people, client_for, runner, erased_story, tampering
):
    tampering.do(app, erased_story)

    for mode in ([], ["--full"]):
        result = runner.invoke(args=["escalate", "verify-audit", *mode])
        assert result.exit_code == 1, (mode, result.output)
        for pattern in tampering.says:
            expected = pattern.format(**{k: re.escape(v) for k, v in erased_story.items()})
            assert re.search(expected, result.stderr), (mode, expected, result.stderr)
    if tampering.page:
        verdict = verdict_on_page(client_for(people.auditor), erased_story[tampering.page])
        assert "This history was altered: event" in verdict, verdict


def test_the_checkpoint_notices_the_access_log_no_longer_reaching_it(app, runner, erased_story):
    access_tail_deleted(app, erased_story)

    result = runner.invoke(args=["escalate", "checkpoint"])

    assert result.exit_code == 1
    assert "the access log: position 3: the access log ends at position 2" in result.stderr
