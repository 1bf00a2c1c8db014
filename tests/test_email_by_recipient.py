"""Email matches each recipient's security: addresses at a secure domain (SECURE_EMAIL_DOMAINS,
or a subdomain of one) get the whole message; every other address gets only the reference and a
link, whatever the message is about; EMAIL_LINK_ONLY sends only links to everyone."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from escalate import messages, notify
from escalate.config import ConfigError, load_config
from escalate.extensions import db
from escalate.models import Difference
from escalate.services._records import add_to_outbox
from tests.mailserver import MailServer
from tests.test_delivery import (
    BASE_URL,
    FROM,
    NOW,
    RATIONALE,
    Clock,
    _signed_in,
    deliver,
    outbox,
    raise_difference,
    respond,
)

NARRATIVE = "the mother stopped taking her medication and the baby had bruising"


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def mail_server():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(clock, mail_server):
    return {
        "CLOCK": clock,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mail_server.port,
        "MAIL_DEFAULT_SENDER": FROM,
        "ESCALATE_BASE_URL": BASE_URL,
        # The GP practice's addresses are secure; children's social care's (csc.example) not.
        "SECURE_EMAIL_DOMAINS": ("gp.example",),
    }


def parts(received) -> list[str]:
    return [received.message["Subject"], received.part("plain"), received.part("html")]


def test_a_secure_address_gets_the_whole_message_and_another_only_the_link(
    app, people, clock, mail_server
):
    reference = raise_difference(app, people)
    respond(app, people, reference)
    deliver(app, clock)

    (to_gp_raised, to_gp_response) = mail_server.to("gp@gp.example")
    (to_social_worker,) = mail_server.to("sw@csc.example")
    assert RATIONALE in to_gp_response.part("plain")
    assert to_gp_response.message["Subject"].startswith(f"{reference}: ")
    assert "there is an update" not in to_gp_response.message["Subject"]
    for part in parts(to_social_worker):
        assert "Children's Social Care" not in part and "Stage" not in part
    assert to_social_worker.message["Subject"] == (
        f"{reference}: there is an update, sign in to read it"
    )
    assert f"{BASE_URL}/differences/{reference}" in to_social_worker.part("plain")
    forms = {(n.recipient.email, n.email_form) for n in outbox(app)}
    assert forms == {
        ("gp@gp.example", notify.FULL),
        ("lead@gp.example", notify.FULL),  # the raiser's supporter, told of the raising
        ("sw@csc.example", notify.LINK_ONLY),
    }
    # The app keeps the message whole for both.
    assert [n.recipient.email for n in outbox(app) if RATIONALE in n.body] == ["gp@gp.example"]


def test_the_difference_page_says_which_form_each_recipient_got(app, people, clock, mail_server):
    reference = raise_difference(app, people)
    deliver(app, clock)

    page = _signed_in(app, people.gp).get(f"/differences/{reference}").get_data(as_text=True)
    told = page.split('id="notifications"')[1]
    rows = told.split('<tr class="govuk-table__row">')[2:]
    by_name = {("Dr Emma Clarke" in r and "gp") or ("Sam Okafor" in r and "sw"): r for r in rows}
    assert "The whole message (a secure address)" in by_name["gp"]
    assert "Only the reference and a link" in by_name["sw"]
    assert "Only the reference and a link" not in by_name["gp"]


def test_link_only_for_everyone_overrides_the_secure_domains(app, people, clock, mail_server):
    app.config["EMAIL_LINK_ONLY"] = True
    reference = raise_difference(app, people)
    respond(app, people, reference)
    deliver(app, clock)

    for received in mail_server.to("gp@gp.example"):
        assert received.message["Subject"] == f"{reference}: there is an update, sign in to read it"
        assert RATIONALE not in received.part("plain")
    assert {n.email_form for n in outbox(app)} == {notify.LINK_ONLY}


# Every fact a message can carry, each free text full of family narrative.
FACTS = {
    "actor": "Sam Okafor",
    "raiser": "Dr Emma Clarke",
    "raising_agency": "Riverside Medical Practice",
    "receiving_agency": "Children's Social Care",
    "deadline": NOW + timedelta(days=3),
    "previous_deadline": NOW + timedelta(days=1),
    "urgent": True,
    "outcome": "partly_agreed",
    "rationale": f"Rationale: {NARRATIVE}.",
    "child_impact": f"Impact: {NARRATIVE}.",
    "agreed_actions": f"Actions: {NARRATIVE}.",
    "decision": f"Decision: {NARRATIVE}.",
    "comment": f"Comment: {NARRATIVE}.",
    "participants": f"Participants: {NARRATIVE}.",
    "agreed": f"Agreed: {NARRATIVE}.",
    "previous_stage": "Practitioner to practitioner",
    "next_stage": "Manager to manager",
    "automatic": False,
    "days": 2,
    "requested_by": "Sam Okafor",
    "proposed_deadline": NOW + timedelta(days=5),
    "answer": f"Answer: {NARRATIVE}.",
    "new_responder": "Leah Morgan",
    "held_on": "20 November 2026",
    "time_left": "1 working day left",
    "responded_at": NOW,
    "overdue": False,
    "escalating": False,
    "is_final": False,
    "reply_by": NOW + timedelta(days=5),
    "closes_at": NOW + timedelta(days=9),
    "advice": f"Advice: {NARRATIVE}.",
    "reason": f"Reason: {NARRATIVE}.",
    "proposal": "accept",
    "proposed_by": "Dr David Chen",
    "proposal_rationale": f"Proposal: {NARRATIVE}.",
    "applied_after_no_reply": False,
    "number": 2,
    "action": f"Action: {NARRATIVE}.",
    "agency": "Children's Social Care",
    "due_on": "2026-11-23",
    "owner": "Sam Okafor",
    "what_was_done": f"Done: {NARRATIVE}.",
    "meeting_kind": "professionals_meeting",
    "meets_on": "4 December 2026",
    "minutes_due_on": "24 December 2026",
    "chair": f"Chair: {NARRATIVE}.",
    "invited": f"Invited: {NARRATIVE}.",
    "attendees": f"Attendees: {NARRATIVE}.",
    "outcome_words": "Response: agreed",
    "outcome_at": NOW,
    "recommendation": f"Recommendation: {NARRATIVE}.",
    "owner_agency": "Children's Social Care",
    "status": "open",
}
KINDS = sorted(messages._WRITERS)


@pytest.mark.parametrize("kind", KINDS)
def test_no_kind_of_message_carries_family_narrative_to_an_address_that_is_not_secure(
    app, people, clock, mail_server, kind
):
    reference = raise_difference(app, people)
    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        for role in ("raiser", "responder", "lead", "involved", "next_responder"):
            subject, body = messages.compose(
                kind, reference=reference, stage="Stage one", for_recipient=role, **FACTS
            )
            for person in (people.sw, people.gp):
                add_to_outbox(person.id, subject, body, NOW, difference_id=difference.id)
        db.session.commit()
        db.session.remove()
    deliver(app, clock)

    to_social_worker = mail_server.to("sw@csc.example")
    assert len(to_social_worker) == 6  # the raising, and this kind for each of five roles
    for received in to_social_worker:
        for part in parts(received):
            assert NARRATIVE not in part
            assert "Rationale" not in part and "Stage one" not in part
    # The secure address gets what the message says (narrative written into it, where it is).
    written = [n.body for n in outbox(app) if n.recipient.email == "gp@gp.example"][1:]
    delivered = [r.part("plain") for r in mail_server.to("gp@gp.example")][1:]
    assert any(NARRATIVE in body for body in written) == any(NARRATIVE in d for d in delivered)


@pytest.mark.parametrize(
    ("email", "secure"),
    [
        ("someone@nhs.net", True),
        ("Someone@NHS.NET", True),
        ("someone@trust.nhs.net", True),
        ("someone@a.b.nhs.net", True),
        ("someone@notnhs.net", False),
        ("someone@nhs.net.example", False),
        ("someone@northshire.gov.uk", True),
        ("someone@gmail.com", False),
        ("not an address", False),
    ],
)
def test_a_secure_domain_covers_itself_and_its_subdomains_only(email, secure):
    assert notify.secure_address(email, ("nhs.net", "northshire.gov.uk")) is secure


def test_no_secure_domains_means_every_email_is_link_only():
    assert not notify.secure_address("someone@nhs.net", ())


def test_the_secure_domains_are_read_from_the_environment(tmp_path):
    environ = {
        "ESCALATE_ENV": "development",
        "SECURE_EMAIL_DOMAINS": "nhs.net, @Northshire.gov.uk  partnership.example.",
    }
    config = load_config(str(tmp_path), environ)
    assert config["SECURE_EMAIL_DOMAINS"] == ("nhs.net", "northshire.gov.uk", "partnership.example")
    assert load_config(str(tmp_path), {"ESCALATE_ENV": "development"})["SECURE_EMAIL_DOMAINS"] == ()
    for wrong in ("nhs..net", "*.nhs.net", "someone@nhs.net", "nhs net!"):
        with pytest.raises(ConfigError, match="SECURE_EMAIL_DOMAINS must be email domains"):
            load_config(str(tmp_path), environ | {"SECURE_EMAIL_DOMAINS": wrong})
