"""The words of an outcome's entry for an agency's own record of the child (escalate.chronology):
pure, no database."""

from datetime import UTC, date, datetime

import pytest

from escalate import chronology
from escalate.errors import FieldError, NotAllowed
from escalate.models import Role

AT = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)


def facts(**overrides):
    fields = dict(
        kind="responded",
        at=AT,
        stage_level=1,
        details={
            "outcome": "partly_agreed",
            "rationale": "A strategy discussion is not needed; an early help assessment is.",
            "child_impact": "She will have a family support worker within a week.",
            "agreed_actions": "Early help assessment by 10 December.",
            "reply_by": "2026-12-10T17:00:00+00:00",
        },
        reference="D-2026-0001",
        child_reference="CSC-884512",
        child_initials="QZ",
        raising_agency="Riverside Medical Practice",
        receiving_agency="Children's Social Care",
        recorded_by="Sam Okafor",
        recorded_by_role="Social Worker",
        recorded_by_agency="Children's Social Care",
    )
    fields.update(overrides)
    return chronology.EntryFacts(**fields)


def test_a_response_reads_as_an_entry_ready_to_paste():
    assert chronology.entry_text(facts()) == (
        "Date: 3 December 2026\n"
        "Professional difference: D-2026-0001 (recorded in escalate)\n"
        "Child: case reference CSC-884512, initials QZ\n"
        "Agencies: Riverside Medical Practice (raised the difference) and Children's Social Care "
        "(received it)\n"
        "Outcome: Response at stage 1: partly agreed – a different plan\n"
        "Recorded by: Sam Okafor (Social Worker, Children's Social Care)\n"
        "Rationale: A strategy discussion is not needed; an early help assessment is.\n"
        "What this means for the child: She will have a family support worker within a week.\n"
        "Actions agreed: Early help assessment by 10 December."
    )


def test_the_date_is_the_local_day():
    # 11:30pm UTC on 31 March 2026 is 12:30am on 1 April in London (summer time).
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert "Date: 1 April 2026" in chronology.entry_text(facts(at=late))


def test_an_acceptance_carries_the_response_it_accepted():
    text = chronology.entry_text(
        facts(
            kind="accepted",
            details={"outcome": "agreed", "comment": ""},
            recorded_by="Dr Emma Clarke",
            recorded_by_role="GP",
            recorded_by_agency="Riverside Medical Practice",
            response={"rationale": "The threshold is met.", "child_impact": "A section 47."},
        )
    )
    assert "Outcome: Response accepted by the raising agency: agreed – the decision changes" in text
    assert "Rationale: The threshold is met." in text
    assert "What this means for the child: A section 47." in text
    assert "Comment" not in text


def test_a_close_for_no_reply_is_recorded_by_escalate():
    text = chronology.entry_text(
        facts(
            kind="closed_no_reply",
            details={"reason": "Nobody answered.", "response_outcome": "upheld"},
            recorded_by="",
            recorded_by_role="",
            recorded_by_agency="",
        )
    )
    assert "Outcome: Closed: no reply from the raising side" in text
    assert "Recorded by: escalate, automatically" in text
    assert "Rationale: Nobody answered." in text


def test_erased_texts_show_as_they_stand():
    removed = "[removed under the retention policy]"
    text = chronology.entry_text(
        facts(
            details={"outcome": "upheld", "rationale": removed, "child_impact": removed},
            child_reference=removed,
            child_initials=removed,
        )
    )
    assert f"Rationale: {removed}" in text
    assert "CSC-884512" not in text


def test_who_writes_it():
    common = dict(raiser_id=1, agency_id=20, named_professional_id=5)
    assert (
        chronology.owner_id(
            "raising", actor_id=9, actor_agency_id=20, responder_ids_of_agency=[7], **common
        )
        == 1
    )
    assert (
        chronology.owner_id(
            "receiving", actor_id=9, actor_agency_id=20, responder_ids_of_agency=[7], **common
        )
        == 9
    )
    # The raiser accepted: the receiving agency's responder writes it; failing that, the named
    # professional; failing that, nobody.
    assert (
        chronology.owner_id(
            "receiving", actor_id=1, actor_agency_id=10, responder_ids_of_agency=[7], **common
        )
        == 7
    )
    assert (
        chronology.owner_id(
            "receiving", actor_id=None, actor_agency_id=None, responder_ids_of_agency=[], **common
        )
        == 5
    )
    assert (
        chronology.owner_id(
            "receiving",
            actor_id=None,
            actor_agency_id=None,
            responder_ids_of_agency=[],
            raiser_id=1,
            agency_id=20,
            named_professional_id=None,
        )
        is None
    )


def test_who_may_confirm():
    assert chronology.may_confirm(Role.PRACTITIONER, 20, 20, takes_part=True)
    assert not chronology.may_confirm(Role.PRACTITIONER, 20, 20, takes_part=False)
    assert not chronology.may_confirm(Role.MANAGER, 10, 20, takes_part=True)
    assert not chronology.may_confirm(Role.PARTNERSHIP, 20, 20, takes_part=True)
    with pytest.raises(NotAllowed):
        chronology.check_confirm(Role.AUDITOR, None, 20, "Children's Social Care", takes_part=True)


def test_which_dates_may_be_given():
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    chronology.check_recorded_on(date(2026, 12, 3), outcome_at=AT, now=now)
    chronology.check_recorded_on(date(2026, 12, 7), outcome_at=AT, now=now)
    for wrong, words in (
        (date(2026, 12, 8), "today or in the past"),
        (date(2026, 12, 2), "on or after the outcome, 3 December 2026"),
        (None, "Enter the date"),
    ):
        with pytest.raises(FieldError, match=words):
            chronology.check_recorded_on(wrong, outcome_at=AT, now=now)
