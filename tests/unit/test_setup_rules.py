"""The pure rules of setting a partnership up: policy guards, line managers, last admin, tokens,
CSV."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from escalate import policy, validation
from escalate.models import AgencyKind, LeadRule, ResponderRule, Role
from escalate.policy import DEFAULT_POLICY
from escalate.services import _records as records
from escalate.services import importing
from escalate.workflow import FieldError, InvalidRequest

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def refusal(call, *args, **kwargs):
    with pytest.raises((FieldError, InvalidRequest)) as caught:
        call(*args, **kwargs)
    return caught.value


# --- The stage policy ----------------------------------------------------------------------


def test_the_default_policy_passes_every_guard():
    policy.check_policy(list(DEFAULT_POLICY))


def test_a_policy_needs_at_least_one_stage():
    assert "at least one stage" in str(refusal(policy.check_policy, []))


def test_stages_are_numbered_without_gaps():
    stages = [DEFAULT_POLICY[0], replace(DEFAULT_POLICY[3], level=3)]
    assert "numbered 1, 2, 3" in str(refusal(policy.check_policy, stages))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("working_days", 0, "at least 1"),
        ("working_days", -3, "at least 1"),
        ("working_days", 61, "60 working days or fewer"),
        ("urgent_working_hours", 0, "between 1 and 80"),
        ("urgent_working_hours", 81, "between 1 and 80"),
        ("urgent_working_hours", 1.5, "Enter the working hours"),
        ("reminder_days_before", -1, "at least 0"),
        ("reminder_days_before", 5, "must come before the deadline"),
        ("raiser_reply_days", 0, "at least 1"),
        ("max_extension_days", -1, "at least 0"),
        ("working_days", None, "whole number"),
        ("working_days", True, "whole number"),
        ("name", "   ", "Enter the stage's name"),
        ("name", "x" * 121, "120 characters or fewer"),
        ("responder_rule", "the boss", "Select who responds"),
        ("lead_rule", "", "Select who leads"),
    ],
)
def test_timescales_must_be_positive_and_each_field_sensible(field, value, words):
    stage = replace(DEFAULT_POLICY[0], **{field: value})
    error = refusal(policy.check_stage, stage, is_final=False)
    assert isinstance(error, FieldError) and error.field == field
    assert words in str(error)


def test_urgent_hours_cannot_be_longer_than_the_usual_working_days():
    stage = replace(
        DEFAULT_POLICY[0], working_days=1, reminder_days_before=0, urgent_working_hours=9
    )
    error = refusal(policy.check_stage, stage, is_final=False)
    assert error.field == "urgent_working_hours"
    assert "cannot have longer than the usual 1 working day (8 working hours)" in str(error)
    policy.check_stage(replace(stage, urgent_working_hours=8), is_final=False)


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (time(5, 59), time(17), "from 06:00"),
        (time(16), time(17), "at least 2 hours before it ends (17:00)"),
        ("9am", time(17), "from 06:00"),
    ],
)
def test_the_working_day_starts_early_enough_and_well_before_it_ends(start, end, words):
    error = refusal(policy.check_start_of_working_day, start, end)
    assert error.field == "start_of_working_day" and words in str(error)
    assert policy.check_start_of_working_day(time(8, 30, 15), time(17)) == time(8, 30)


def test_an_urgent_difference_starts_at_most_at_the_stage_before_the_final_one():
    assert policy.check_highest_urgent_start(2, [1, 2, 3, 4]) == 2
    for bad in (0, 4, 5, True, "2", None):
        error = refusal(policy.check_highest_urgent_start, bad, [1, 2, 3, 4])
        assert error.field == "highest_urgent_start" and "between 1 and 3" in str(error)
    assert policy.urgent_start_levels(3, [1, 2, 3, 4]) == [1, 2, 3]
    assert policy.urgent_start_levels(2, [1, 2, 3, 4]) == [1, 2]
    # A policy shrunk below the setting offers what it still has before its final stage.
    assert policy.urgent_start_levels(3, [1, 2]) == [1]
    assert policy.urgent_start_levels(3, [1]) == [1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("01632 960100", "01632 960100"), ("  101 ", "101"), ("+44 (0)1632-960 100", None),
     ("", ""), (None, "")],
)
def test_telephone_numbers_are_digits_as_people_dial_them(value, expected):
    if expected is None:
        expected = "+44 (0)1632-960 100"
    assert policy.check_phone(value, field="mash_phone", what="the MASH's number") == expected


@pytest.mark.parametrize("value", ["call the MASH", "12", "0" * 41, "01632 960100 ext"])
def test_a_telephone_number_that_is_not_one_is_refused(value):
    error = refusal(policy.check_phone, value, field="mash_phone", what="the MASH's number")
    assert error.field == "mash_phone" and "as digits" in str(error)


def test_zero_reminder_and_zero_extension_are_allowed():
    policy.check_stage(
        replace(DEFAULT_POLICY[0], reminder_days_before=0, max_extension_days=0), is_final=False
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"responder_rule": ResponderRule.AGENCY_CONTACTS}, "responder_rule"),
        ({"lead_rule": LeadRule.AGENCY_CONTACTS}, "lead_rule"),
        ({"auto_escalate": True}, "auto_escalate"),
    ],
)
def test_the_last_stage_is_a_final_stage_the_partnership_decides(change, field):
    final = replace(DEFAULT_POLICY[3], **change)
    error = refusal(policy.check_policy, [*DEFAULT_POLICY[:3], final])
    assert error.field == field


def test_an_earlier_stage_may_use_the_partnership_but_the_last_must():
    # Stage 3 of the default policy uses agency contacts: it cannot be the last one.
    error = refusal(policy.check_policy, list(DEFAULT_POLICY[:3]))
    assert error.field == "responder_rule" and "final stage" in str(error)
    policy.check_policy([DEFAULT_POLICY[0], replace(DEFAULT_POLICY[3], level=2)])


# --- Accounts --------------------------------------------------------------------------------


def test_a_line_manager_cannot_be_oneself_or_anyone_below():
    # 1 manages 2, 2 manages 3.
    managers = {1: None, 2: 1, 3: 2, 4: None}
    assert "own line manager" in str(refusal(validation.check_line_manager, 2, 2, managers))
    assert "reports to this one" in str(refusal(validation.check_line_manager, 1, 3, managers))
    assert "reports to this one" in str(refusal(validation.check_line_manager, 1, 2, managers))
    validation.check_line_manager(3, 4, managers)
    validation.check_line_manager(4, 3, managers)  # someone outside the line
    validation.check_line_manager(1, None, managers)


def test_a_loop_already_in_the_data_does_not_hang():
    validation.check_line_manager(9, 1, {1: 2, 2: 1})


def test_the_last_active_admin_cannot_go():
    assert "only active administrator" in str(
        refusal(
            validation.check_still_an_admin, active_admin_ids={5}, user_id=5, remains_admin=False
        )
    )
    validation.check_still_an_admin(active_admin_ids={5, 6}, user_id=5, remains_admin=False)
    validation.check_still_an_admin(active_admin_ids={5}, user_id=5, remains_admin=True)


def test_an_agency_role_needs_an_agency():
    error = refusal(validation.check_role_and_agency, "practitioner", False)
    assert error.field == "agency"
    assert validation.check_role_and_agency("partnership", False) == Role.PARTNERSHIP
    assert refusal(validation.check_role_and_agency, "chief", True).field == "role"


@pytest.mark.parametrize("text", ["Police", "police", "CHILDREN'S SOCIAL CARE", "early_help"])
def test_agency_kinds_are_read_from_value_or_label(text):
    assert isinstance(validation.agency_kind(text), AgencyKind)


def test_an_unknown_agency_kind_lists_the_kinds():
    assert "Children's social care; Police" in str(refusal(validation.agency_kind, "Fire service"))


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@b", "two@@example.org", "sp ace@x.org"])
def test_email_addresses_must_look_like_one(email):
    assert refusal(validation.check_email, email).field == "email"


# --- Invitations -----------------------------------------------------------------------------


def test_tokens_are_random_and_only_their_hash_is_kept():
    first, second = validation.new_token(), validation.new_token()
    assert first != second and len(first) >= 43
    assert validation.token_hash(first) != first and len(validation.token_hash(first)) == 64


def test_an_invitation_works_once_until_it_expires():
    expires = NOW + validation.INVITATION_LIFETIME

    def problem(used=None, active=True, now=NOW):
        return validation.invitation_problem(
            used_at=used, expires_at=expires, user_active=active, now=now
        )

    assert problem() is None
    assert problem(now=expires - timedelta(seconds=1)) is None
    assert problem(now=expires) == "expired"
    assert problem(used=NOW) == "used"
    assert problem(active=False) == "inactive"


# --- Recording and importing -----------------------------------------------------------------


def test_only_changed_fields_are_recorded():
    before, after = records.differences_between(
        {"name": "Police", "kind": AgencyKind.POLICE}, {"name": "Police", "kind": AgencyKind.OTHER}
    )
    assert (before, after) == ({"kind": "police"}, {"kind": "other"})
    assert records.differences_between({"a": 1}, {"a": 1}) == ({}, {})


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "The file is empty"),
        (["name"], "missing kind"),
        (["name", "kind", "colour"], "unknown 'colour'"),
        (["name", "kind", "Name"], "repeated name"),
    ],
)
def test_csv_columns_must_be_the_documented_ones(header, words):
    assert words in str(refusal(importing.check_columns, header, importing.AGENCY_COLUMNS))


def test_every_rejected_row_is_reported_with_its_line():
    def check(line, row):
        if not row["name"]:
            raise InvalidRequest("Enter a name")

    rows = [(2, {"name": "A"}), (3, {"name": ""}), (4, {"__too_many__": True})]
    rejected = importing.collect_rejections(rows, check)
    assert [(r.line, r.reason) for r in rejected][0] == (3, "Enter a name.")
    assert rejected[1].line == 4 and "more values than there are columns" in rejected[1].reason
