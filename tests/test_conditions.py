"""Each SQL condition of escalate.queries.conditions answers as its Python twin does.

The lists (who may be named, reassigned to, raised with; what is overdue) come from the SQL; the
refusals come from the rules in workflow.py and deadlines.py. If the two drifted apart, a form
would offer a choice the rules then refuse, or hide one they allow.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from escalate import deadlines, queries, services, workflow
from escalate.extensions import db
from escalate.models import Agency, AgencyKind, Difference, Role, Side, Stage, State, User
from escalate.queries import conditions
from tests import factories

NOW = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


def _partnership():
    """Three agencies (one with only an inactive professional), every role, active or not."""
    health = factories.agency("Health", AgencyKind.HEALTH)
    police = factories.agency("Police", AgencyKind.POLICE)
    empty = factories.agency("Business unit", AgencyKind.OTHER)
    for agency in (health, police):
        for role in (Role.PRACTITIONER, Role.MANAGER, Role.SENIOR):
            factories.user(role, agency=agency)
        factories.user(Role.PRACTITIONER, agency=agency, active=False)
    factories.user(Role.PRACTITIONER, agency=empty, active=False)
    for role in (Role.PARTNERSHIP, Role.AUDITOR, Role.ADMIN):
        factories.user(role)
        factories.user(role, active=False)
    db.session.commit()
    return [health, police, empty]


def _ids(condition) -> set[int]:
    return set(db.session.scalars(sa.select(User.id).where(condition)))


def test_professionals_and_the_professionals_of_an_agency(ctx):
    agencies = _partnership()
    users = db.session.scalars(sa.select(User)).all()
    persons = {u.id: queries.differences.person_for(u) for u in users}
    assert _ids(conditions.professional()) == {
        i for i, p in persons.items() if workflow.is_professional(p)
    }
    for agency in agencies:
        by_sql = _ids(conditions.professional_of(agency.id))
        by_rule = {i for i, p in persons.items() if workflow.is_professional_of(p, agency.id)}
        assert by_sql == by_rule, agency.name
    assert len(_ids(conditions.professional_of(agencies[0].id))) == 3
    assert _ids(conditions.professional_of(agencies[2].id)) == set()


def test_the_agencies_a_difference_may_be_raised_with(ctx):
    agencies = _partnership()
    for raiser_agency in agencies:
        by_sql = set(
            db.session.scalars(sa.select(Agency.id).where(conditions.may_receive(raiser_agency.id)))
        )
        by_rule = {
            agency.id
            for agency in agencies
            if workflow.may_receive(
                raiser_agency.id,
                agency.id,
                has_professionals=db.session.scalar(
                    sa.select(conditions.has_professionals(agency.id))
                ),
            )
        }
        assert by_sql == by_rule, raiser_agency.name
    health, police, empty = agencies
    assert by_rule == {health.id, police.id}  # raised from the business unit
    assert empty.id not in by_sql


def test_who_an_open_stage_may_be_reassigned_to(ctx):
    agencies = _partnership()
    users = db.session.scalars(sa.select(User)).all()
    for is_final_stage in (False, True):
        for agency in agencies:
            by_sql = _ids(
                conditions.may_take_over(
                    is_final_stage=is_final_stage, receiving_agency_id=agency.id
                )
            )
            by_rule = {
                u.id
                for u in users
                if workflow.may_take_over(
                    queries.differences.person_for(u),
                    is_final_stage=is_final_stage,
                    receiving_agency_id=agency.id,
                )
            }
            assert by_sql == by_rule, (agency.name, is_final_stage)
    partnership = _ids(
        conditions.may_take_over(is_final_stage=True, receiving_agency_id=agencies[0].id)
    )
    assert {db.session.get(User, i).role for i in partnership} == {Role.PARTNERSHIP}


def test_overdue_in_sql_is_overdue_on_the_page(ctx):
    """Differences waiting for a response or for the raiser, either side of their deadline."""
    health, police, _ = _partnership()
    raiser = factories.user(Role.PRACTITIONER, agency=health)
    raised = []
    for days_ago in (0, 3, 6, 9, 12):
        difference = services.differences.raise_difference(
            raiser, factories.new_difference(police), NOW - timedelta(days=days_ago)
        )
        raised.append(difference.id)
    # One that has had its response: waiting for the raiser is never overdue.
    answered = db.session.get(Difference, raised[-1])
    services.differences.respond(
        answered.open_stage.people(Side.RESPONDER)[0],
        answered.id,
        answered.version,
        outcome="upheld",
        rationale="The threshold for a section 47 enquiry was not met on what we knew then.",
        child_impact="The family keeps the early help support it already has in place.",
        now=NOW - timedelta(days=11),
    )
    assert answered.state == State.AWAITING_RAISER
    found = []
    for now in (NOW, NOW + timedelta(days=1), NOW + timedelta(days=14)):
        by_sql = set(
            db.session.scalars(
                sa.select(Difference.id)
                .join(Stage, conditions.open_stage_on())
                .where(conditions.overdue(now))
            )
        )
        by_rule = set()
        for difference in db.session.scalars(sa.select(Difference)):
            stage = difference.open_stage
            if deadlines.is_overdue(difference.state, stage.deadline, now):
                by_rule.add(difference.id)
            assert queries.differences.situation(difference, now).is_overdue is (
                difference.id in by_rule
            )
        assert by_sql == by_rule, now
        found.append(by_rule)
    # Some overdue and some not at first; a fortnight on, every one waiting for a response.
    assert set() < found[0] < set(raised[:-1])
    assert found[-1] == set(raised[:-1])


def test_who_is_a_current_party_in_sql_is_who_the_rules_see_at_the_open_stage(ctx):
    # Every stage and state, with reassignments and closed histories: the synthetic partnership.
    services.synthetic.seed_bench(300, NOW, people=120)
    expected: dict[tuple[int, Side], set[int]] = {}
    for difference in db.session.scalars(sa.select(Difference)):
        state = queries.differences.situation(difference, NOW)
        for side, ids in ((Side.RESPONDER, state.responder_ids), (Side.LEAD, state.lead_ids)):
            for user_id in ids:
                expected.setdefault((user_id, side), set()).add(difference.id)
    assert expected, "the synthetic partnership has open stages"
    for user_id in db.session.scalars(sa.select(User.id)):
        for side in Side:
            by_sql = set(
                db.session.scalars(
                    sa.select(Difference.id).where(conditions.current_party(user_id, side))
                )
            )
            assert by_sql == expected.get((user_id, side), set()), (user_id, side)


def _seen_by_rule(user, differences) -> set[int]:
    """The ids of ``differences`` the rules let ``user`` see."""
    actor = queries.differences.actor_for(user)
    return {
        d.id for d in differences if workflow.can_see(actor, queries.differences.situation(d, NOW))
    }


def test_who_may_see_a_difference_in_sql_is_who_the_rules_let_see_it_supporters_too(ctx):
    """Supporters (a line manager who is a practitioner, an agency's designated safeguarding
    lead) see the differences of those they support, and no others."""
    from escalate.models import AgencySafeguardingLead

    health, police, _ = _partnership()
    senior_practitioner = factories.user(Role.PRACTITIONER, agency=health)
    managed = factories.user(Role.PRACTITIONER, agency=health, line_manager=senior_practitioner)
    unmanaged = factories.user(Role.PRACTITIONER, agency=police)
    dsl = factories.user(Role.PRACTITIONER, agency=police)
    db.session.add(AgencySafeguardingLead(agency_id=police.id, user_id=dsl.id))
    db.session.commit()
    services.differences.raise_difference(managed, factories.new_difference(police), NOW)
    services.differences.raise_difference(unmanaged, factories.new_difference(health), NOW)
    services.differences.raise_difference(
        factories.user(Role.PRACTITIONER, agency=health), factories.new_difference(police), NOW
    )
    differences = db.session.scalars(sa.select(Difference).order_by(Difference.id)).all()
    seen = {}
    for user in db.session.scalars(sa.select(User)):
        by_sql = set(
            db.session.scalars(sa.select(Difference.id).where(conditions.visible_to(user)))
        )
        by_rule = _seen_by_rule(user, differences)
        assert by_sql == by_rule, user
        seen[user.id] = by_rule
    assert seen[senior_practitioner.id] == {differences[0].id}
    assert seen[dsl.id] == {differences[1].id}


def test_who_may_see_a_difference_by_a_statement_built_once_is_who_the_rules_let_see_it(ctx):
    # The statements built once for everyone of a reach (the Waiting page's meetings to follow
    # up) bind the person and their agency: every person of the synthetic partnership, every
    # role, sees by them exactly what the rules let them see.
    services.synthetic.seed_bench(120, NOW, people=60)
    differences = db.session.scalars(sa.select(Difference)).all()
    statements = {
        reach: sa.select(Difference.id).where(conditions.visible_bound(reach))
        for reach in ("all", "agency", "own")
    }
    reaches = set()
    for user in db.session.scalars(sa.select(User)):
        reach = conditions.reach(user)
        reaches.add(reach)
        by_sql = set(
            db.session.scalars(statements[reach], {"person": user.id, "agency": user.agency_id})
        )
        by_rule = _seen_by_rule(user, differences)
        assert by_sql == by_rule, user
    assert reaches == {"all", "agency", "own"}
