"""Emailing the outbox through a real SMTP server: content, retries, failure, claims, the page."""

import re
import threading
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from escalate import notify, queries, services
from escalate.extensions import db
from escalate.models import Difference, EmailStatus, Notification, User
from tests import factories
from tests.mailserver import MailServer

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
BASE_URL = "https://escalate.northshire.example"
FROM = "Northshire partnership <rpd@northshire.example>"
RATIONALE = "The explanation given by the parent is consistent with the injury seen on the arm."
REFERENCE = "RPD-2026-00001"


class Clock:
    """The application's clock, moved by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


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
    }


def raise_difference(app, people, now=NOW, **overrides) -> str:
    """The GP raises a difference with children's social care, naming the social worker: the GP,
    the social worker and the GP's line manager (who supports the GP) are each told."""
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        new = factories.new_difference(
            db.session.get(User, people.sw.id).agency,
            named_professional_id=people.sw.id,
            **overrides,
        )
        reference = services.differences.raise_difference(gp, new, now).reference
        db.session.remove()
    return reference


def act(app, action, person, reference, now=NOW, **fields):
    with app.app_context():
        user = db.session.get(User, person.id)
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        action(user, difference.id, difference.version, now=now, **fields)
        db.session.remove()


def respond(app, people, reference, rationale=RATIONALE, now=NOW):
    act(
        app,
        services.differences.respond,
        people.sw,
        reference,
        now,
        outcome="upheld",
        rationale=rationale,
        child_impact="Family support continues through early help.",
    )


def deliver(app, clock, *, worker="worker-1", mailer=None, **options):
    with app.app_context():
        mailer = mailer or notify.mailer_from_app(app)
        counts = services.delivery.deliver_due(mailer, clock, worker_id=worker, **options)
        db.session.remove()
    return counts


def outbox(app) -> list[Notification]:
    """Every notification as it stands, oldest first, detached with its recipient loaded."""
    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(Notification)
                .options(sa.orm.joinedload(Notification.recipient))
                .order_by(Notification.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def expected_message_id(notification_id: int) -> str:
    return f"<notification-{notification_id}@escalate.northshire.example>"


def test_each_person_gets_an_email_with_the_outcome_its_rationale_and_a_link(
    app, people, clock, mail_server
):
    reference = raise_difference(app, people)
    respond(app, people, reference)

    counts = deliver(app, clock)

    assert (counts.sent, counts.retrying, counts.failed, counts.not_emailed) == (4, 0, 0, 0)
    rows = outbox(app)
    assert [(n.recipient.email, n.email_status, n.sent_at) for n in rows] == [
        ("gp@gp.example", EmailStatus.SENT, NOW),
        ("sw@csc.example", EmailStatus.SENT, NOW),
        ("lead@gp.example", EmailStatus.SENT, NOW),  # the GP's supporter
        ("gp@gp.example", EmailStatus.SENT, NOW),
    ]
    received = {r.message_id: r for r in mail_server.received()}
    assert set(received) == {expected_message_id(n.id) for n in rows}

    response = received[expected_message_id(rows[3].id)]
    assert response.recipients == ("gp@gp.example",)
    assert response.mail_from == "rpd@northshire.example"
    assert response.message["From"] == FROM
    assert response.message["To"] == "Dr Emma Clarke <gp@gp.example>"
    assert response.message["Subject"] == f"{reference}: Children's Social Care upheld its decision"
    text, html = response.part("plain"), response.part("html")
    link = f"{BASE_URL}/differences/{reference}"
    for part in (text, html):
        assert "Hello Dr Emma Clarke," in part
        assert "Sam Okafor responded at the Practitioner to practitioner stage." in part
        assert "Outcome: upheld – the decision stands." in part
        assert f"Rationale: {RATIONALE}" in part
        assert "Family support continues through early help." in part
        assert link in part
    assert f'<a href="{link}"' in html

    assigned = received[expected_message_id(rows[1].id)]
    assert assigned.recipients == ("sw@csc.example",)
    assert "needs your response by 5pm on Friday 27 November 2026" in assigned.message["Subject"]
    assert "A response is due by 5pm on Friday 27 November 2026." in assigned.part("plain")


def test_only_the_reference_identifies_the_child(app, people, clock, mail_server):
    # The factory's child: initials QZ, born 14 May 2019, case reference CSC-884512; the
    # responder writes all three into the rationale, as people do.
    reference = raise_difference(app, people)
    written = (
        "QZ's school saw no new marks. Q.Z. (case csc-884512, born 14/05/2019, that is 14th May "
        "2019 or 2019-05-14) lives with her mother; QZ is settled at home."
    )
    respond(app, people, reference, rationale=written)
    deliver(app, clock)

    for received in mail_server.received():
        seen = " ".join(
            [received.message["Subject"], received.part("plain"), received.part("html")]
        )
        assert reference in seen
        assert not re.search(r"\bQ\.?Z\b", seen)
        assert "2019" not in seen and "14 May" not in seen and "14th May" not in seen
        assert "884512" not in seen
    email = mail_server.to("gp@gp.example")[-1].part("plain")
    assert (
        "Rationale: the child's school saw no new marks. the child. (case [case reference], born "
        "[date of birth], that is [date of birth] or [date of birth]) lives with her mother; "
        "the child is settled at home." in email
    )
    # The app, inside the partnership's secure service, shows what was written.
    assert written in outbox(app)[3].body


def test_the_html_part_escapes_what_people_wrote(app, people, clock, mail_server):
    reference = raise_difference(app, people)
    written = (
        'Mum said <script>alert("hi")</script> & <b>shouted</b>; '
        "the bruise on the arm is consistent with her account."
    )
    respond(app, people, reference, rationale=written)
    deliver(app, clock)

    response = mail_server.to("gp@gp.example")[-1]
    html = response.part("html")
    assert "<script>" not in html and "<b>" not in html
    assert (
        "&lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt; &amp; &lt;b&gt;shouted&lt;/b&gt;" in html
    )
    assert written in response.part("plain")


def test_link_only_emails_carry_the_reference_and_the_link_and_nothing_else(
    app, people, clock, mail_server
):
    app.config["EMAIL_LINK_ONLY"] = True
    reference = raise_difference(app, people)
    respond(app, people, reference)
    deliver(app, clock)

    received = mail_server.received()
    assert len(received) == 4
    link = f"{BASE_URL}/differences/{reference}"
    for message in received:
        assert message.message["Subject"] == f"{reference}: there is an update, sign in to read it"
        for part in (message.part("plain"), message.part("html")):
            assert f"There is an update on professional difference {reference}." in part
            assert link in part
            assert "Sign in to read it" in part
            for content in (RATIONALE, "upheld", "Children's Social Care", "Stage", "due by"):
                assert content not in part
    # In the app, the message is whole.
    assert RATIONALE in outbox(app)[3].body


def test_a_mail_outage_delays_email_and_loses_none_and_sends_none_twice(
    app, people, clock, mail_server
):
    mail_server.stop()  # the port is closed
    first = raise_difference(app, people)
    respond(app, people, first)

    counts = deliver(app, clock)

    assert (counts.sent, counts.retrying) == (0, 4)
    for n in outbox(app):
        assert n.email_status == EmailStatus.RETRYING and n.attempts == 1
        assert n.next_attempt_at == NOW + timedelta(minutes=1)
        assert n.last_error.startswith(
            f"Could not reach the mail server 127.0.0.1:{mail_server.port}"
        )
        assert n.claimed_by is None and n.claimed_until is None
    assert deliver(app, clock).retrying == 0  # nothing is due again before its time

    mail_server.start()
    clock.advance(seconds=30)
    second = raise_difference(app, people, now=clock())  # written during the outage
    assert deliver(app, clock).sent == 3  # the new ones; the others wait for their minute
    clock.advance(seconds=30)
    assert deliver(app, clock).sent == 4
    clock.advance(hours=2)
    assert deliver(app, clock).sent == 0

    rows = outbox(app)
    assert {n.email_status for n in rows} == {EmailStatus.SENT}
    assert len(rows) == 7 and {first, second} == {"RPD-2026-00001", "RPD-2026-00002"}
    counts_by_id = mail_server.message_id_counts()
    assert counts_by_id == {expected_message_id(n.id): 1 for n in rows}


def test_retries_back_off_then_fail_and_the_partnership_is_told_in_the_app(
    app, people, clock, mail_server
):
    mail_server.stop()
    reference = raise_difference(app, people)

    waits = []
    while True:
        counts = deliver(app, clock)
        if counts.failed:
            break
        assert counts.retrying == 3
        gp_row = outbox(app)[0]
        waits.append(gp_row.next_attempt_at - clock())
        # A moment before the next try is due, nothing is tried.
        clock.now = gp_row.next_attempt_at - timedelta(seconds=1)
        assert deliver(app, clock).retrying == 0
        clock.advance(seconds=1)

    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    raiser_row, responder_row, supporter_row, *notices = outbox(app)
    for failed in (raiser_row, responder_row, supporter_row):
        assert failed.email_status == EmailStatus.FAILED and failed.attempts == 8
        assert "Could not reach the mail server" in failed.last_error
        assert failed.next_attempt_at is None
    # One notice per failed email for each partnership member, in the app only.
    assert [(n.recipient.email, n.email_status) for n in notices] == [
        ("chair@partnership.example", EmailStatus.NOT_EMAILED),
        ("chair@partnership.example", EmailStatus.NOT_EMAILED),
        ("chair@partnership.example", EmailStatus.NOT_EMAILED),
    ]
    notice = notices[0]
    assert notice.subject == f"{reference}: an email to Dr Emma Clarke could not be delivered"
    assert "could not email Dr Emma Clarke (gp@gp.example)" in notice.body
    assert "after 8 tries" in notice.body and "Could not reach the mail server" in notice.body
    with app.app_context():
        chair = db.session.get(User, people.chair.id)
        assert queries.inbox.counts(chair).unread == 3
        # The failed messages stay in their recipients' inboxes.
        gp_inbox = queries.inbox.inbox(db.session.get(User, people.gp.id))
        assert len(db.session.scalars(gp_inbox).all()) == 1

    # In-app notices are never emailed, however long the worker runs.
    mail_server.start()
    clock.advance(days=1)
    assert deliver(app, clock).sent == 0
    assert mail_server.received() == []


def test_an_address_the_server_refuses_fails_at_once(app, people, clock, mail_server):
    mail_server.refused.add("sw@csc.example")
    raise_difference(app, people)

    counts = deliver(app, clock)

    assert (counts.sent, counts.failed) == (2, 1)
    raiser_row, responder_row, supporter_row, notice = outbox(app)
    assert raiser_row.email_status == EmailStatus.SENT
    assert responder_row.email_status == EmailStatus.FAILED and responder_row.attempts == 1
    assert "550 5.1.1 No such user here" in responder_row.last_error
    assert notice.recipient.email == "chair@partnership.example"
    assert "after 1 try" in notice.body


def test_an_address_that_is_not_one_fails_without_stopping_the_others(
    app, people, clock, mail_server
):
    with app.app_context():
        db.session.get(User, people.sw.id).email = "sam okafor at csc"
        db.session.commit()
    raise_difference(app, people)

    counts = deliver(app, clock)

    assert (counts.sent, counts.failed) == (2, 1)
    assert "'sam okafor at csc' is not an email address" in outbox(app)[1].last_error


def invite(app, people, email="new.worker@police.example"):
    """The administrator invites a new practitioner: the set-password link, as shown to them."""
    with app.app_context():
        admin = db.session.get(User, people.admin.id)
        invited = services.accounts.invite_user(
            admin,
            email=email,
            name="DC New Worker",
            role="practitioner",
            agency_id=db.session.get(User, people.police_manager.id).agency_id,
            now=NOW,
            secret_key=app.config["SECRET_KEY"],
        )
        token = invited.token
        db.session.remove()
    return token


def test_a_set_password_link_is_emailed_from_the_outbox_and_kept_nowhere(
    app, people, clock, mail_server
):
    from tests.test_admin import readable_in_the_database

    # Link-only mode keeps case content out of email; a set-password link has none.
    app.config["EMAIL_LINK_ONLY"] = True
    token = invite(app, people)
    assert not readable_in_the_database(app, token)

    assert deliver(app, clock).sent == 1

    (received,) = mail_server.received()
    (row,) = outbox(app)
    assert received.recipients == ("new.worker@police.example",)
    assert received.message_id == expected_message_id(row.id)
    assert received.message["Subject"] == "Resolve a professional difference: set your password"
    link = f"{BASE_URL}/set-password/{token}"
    text, html = received.part("plain"), received.part("html")
    assert link in text and f'<a href="{link}"' in html
    assert "(it works once, until 10am on Friday 27 November 2026)" in text
    assert (row.email_status, row.sent_at, row.difference_id) == (EmailStatus.SENT, NOW, None)
    assert token not in row.body and "/set-password/" not in row.body
    assert not readable_in_the_database(app, token)
    assert app.test_client().get(link).status_code == 200
    # It is not a message for the inbox in escalate.
    with app.app_context():
        invited = db.session.get(User, row.recipient_id)
        assert db.session.scalars(queries.inbox.inbox(invited)).all() == []


def test_a_link_that_cannot_be_made_again_fails_and_the_administrators_are_told(
    app, people, clock, mail_server
):
    invite(app, people)
    app.config["SECRET_KEY"] = "a new key, set after the link was created, 0123456789abcdef"

    assert deliver(app, clock).failed == 1

    link_row, notice = outbox(app)
    assert mail_server.received() == []
    assert link_row.email_status == EmailStatus.FAILED and link_row.attempts == 1
    assert "SECRET_KEY has changed since it was created" in link_row.last_error
    assert notice.recipient.email == "admin@partnership.example"
    assert notice.subject == "The link to set a password could not be emailed to DC New Worker"
    assert "could not email DC New Worker (new.worker@police.example)" in notice.body
    assert (notice.difference_id, notice.email_status) == (None, EmailStatus.NOT_EMAILED)
    assert notice.last_error == services.delivery.NOT_EMAILED_ADMINISTRATORS_NOTICE
    page = _signed_in(app, people.admin).get(f"/inbox/{notice.id}")
    assert page.status_code == 200 and "send them a new link" in page.get_data(as_text=True)


def test_deactivated_people_are_not_emailed(app, people, clock, mail_server):
    raise_difference(app, people)
    with app.app_context():
        db.session.get(User, people.sw.id).active = False
        db.session.commit()

    counts = deliver(app, clock)

    assert (counts.sent, counts.not_emailed) == (2, 1)
    responder_row = outbox(app)[1]
    assert responder_row.email_status == EmailStatus.NOT_EMAILED
    assert responder_row.last_error == services.delivery.NOT_EMAILED_INACTIVE
    assert [r.recipients for r in mail_server.received()] == [
        ("gp@gp.example",),
        ("lead@gp.example",),
    ]


def test_a_worker_that_died_mid_send_is_relieved_and_the_message_keeps_its_message_id(
    app, people, clock, sent_mail
):
    raise_difference(app, people)
    claim_seconds = app.config["EMAIL_CLAIM_SECONDS"]
    sent_mail.dies_after_sending = True
    with pytest.raises(SystemExit):
        deliver(app, clock, worker="dies")
    sent_mail.dies_after_sending = False
    stranded = outbox(app)[0]
    assert (stranded.email_status, stranded.claimed_by) == (EmailStatus.SENDING, "dies")
    assert stranded.claimed_until == NOW + timedelta(seconds=claim_seconds)

    # While the claim holds, another worker leaves it alone and sends the rest.
    assert deliver(app, clock, worker="other").sent == 2
    clock.advance(seconds=claim_seconds)
    assert deliver(app, clock, worker="other").sent == 1

    raiser_row = outbox(app)[0]
    assert (raiser_row.email_status, raiser_row.attempts) == (EmailStatus.SENT, 2)
    handed_over = [m["Message-ID"] for m in sent_mail.messages]
    assert handed_over.count(expected_message_id(raiser_row.id)) == 2
    first, again = (m for m in sent_mail.messages if m["Message-ID"] == handed_over[0])
    assert (first["Date"], sent_mail.text(first)) == (again["Date"], sent_mail.text(again))


def test_a_message_whose_every_try_was_cut_short_is_given_up(app, people, clock, sent_mail):
    app.config["EMAIL_MAX_ATTEMPTS"] = 2
    raise_difference(app, people)
    claim_seconds = app.config["EMAIL_CLAIM_SECONDS"]
    sent_mail.dies_after_sending = True
    for _ in range(2):
        with pytest.raises(SystemExit):
            deliver(app, clock, worker="dies", limit=1)
        clock.advance(seconds=claim_seconds)
    sent_mail.dies_after_sending = False

    counts = deliver(app, clock, limit=1)

    assert counts.failed == 1
    raiser_row = outbox(app)[0]
    assert raiser_row.email_status == EmailStatus.FAILED
    assert raiser_row.last_error == services.delivery.NOBODY_FINISHED


def test_two_deliverers_at_once_never_send_one_notification_twice(app, people, clock, mail_server):
    for _ in range(8):
        reference = raise_difference(app, people)
        respond(app, people, reference)
    expected = {expected_message_id(n.id) for n in outbox(app)}
    assert len(expected) == 32

    start = threading.Barrier(4)
    results, errors = {}, []

    def work(name):
        try:
            start.wait()
            results[name] = deliver(app, clock, worker=name)
        except Exception as error:  # reported below, with the worker's name
            errors.append((name, error))

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(counts.sent for counts in results.values()) == 32
    assert mail_server.message_id_counts() == {message_id: 1 for message_id in expected}
    assert {n.email_status for n in outbox(app)} == {EmailStatus.SENT}


def test_every_step_of_the_journey_emails_the_raiser_its_outcome_and_rationale(
    app, people, clock, mail_server
):
    reference = raise_difference(app, people)
    steps = [
        (
            services.differences.respond,
            people.sw,
            {
                "outcome": "upheld",
                "rationale": RATIONALE,
                "child_impact": "No change for the child at all.",
            },
        ),
        (
            services.differences.escalate,
            people.gp,
            {
                "rationale": "The GP still thinks a medical is needed "
                "because the bruising pattern is unusual."
            },
        ),
        (
            services.differences.respond,
            people.tm,
            {
                "outcome": "agreed",
                "rationale": "On review the bruising "
                "needs a paediatric opinion, so a medical will be arranged.",
                "child_impact": "A child protection medical this week.",
                "actions": factories.agreed_actions(people.csc.id, "Book the medical by Tuesday."),
            },
        ),
        (services.differences.accept, people.gp, {"comment": "Thank you for looking again."}),
    ]
    for action, person, fields in steps:
        clock.advance(hours=1)
        act(app, action, person, reference, clock(), **fields)
    deliver(app, clock)

    to_raiser = [r.part("plain") for r in mail_server.to("gp@gp.example")]
    assert len(to_raiser) == 5
    raised, upheld, escalated, agreed, accepted = to_raiser
    assert "has been recorded as RPD-2026-00001" in raised
    assert "Outcome: upheld – the decision stands." in upheld and RATIONALE in upheld
    assert (
        "to the Manager to manager stage" in escalated
        and "bruising pattern is unusual" in escalated
    )
    assert "Outcome: agreed – the decision changes." in agreed
    assert "needs a paediatric opinion" in agreed and "Book the medical by Tuesday." in agreed
    assert "The difference is resolved." in accepted and "Thank you for looking again." in accepted

    page = _signed_in(app, people.gp).get(f"/differences/{reference}").get_data(as_text=True)
    table = page.split('id="notifications"')[1]
    assert table.count("Sent at 2:00pm on Friday 20 November 2026") == len(outbox(app))


def _signed_in(app, person):
    from tests.conftest import sign_in

    browser = app.test_client()
    sign_in(browser, person)
    return browser


def test_the_difference_page_shows_each_notifications_delivery(app, people, clock, mail_server):
    # Raised: the GP's email is sent; the server refuses the social worker's, so the partnership
    # is told in the app.
    mail_server.refused.add("sw@csc.example")
    reference = raise_difference(app, people)
    deliver(app, clock)
    # The response reaches the GP's inbox, but the mail server is down: it will be tried again.
    mail_server.stop()
    clock.advance(minutes=5)
    respond(app, people, reference, now=clock())
    deliver(app, clock)
    # Escalated: the new stage's lead is deactivated before any email goes; the rest wait.
    clock.advance(minutes=5)
    act(
        app,
        services.differences.escalate,
        people.gp,
        reference,
        clock(),
        rationale="The GP still disagrees because the bruising pattern is unusual for a fall.",
    )
    with app.app_context():
        db.session.get(User, people.gp_lead.id).active = False
        db.session.commit()
    deliver(app, clock, limit=0)

    for person in (people.gp, people.auditor):
        page = _signed_in(app, person).get(f"/differences/{reference}").get_data(as_text=True)
        section = page.split('id="notifications"')[1].split("</table>")[0]
        rows = [
            unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip())
            for row in section.split('<tr class="govuk-table__row">')[2:]
        ]
        at = "on Friday 20 November 2026"
        assert rows == [
            # Newest first; the escalation's three notifications were written together.
            f"a professional difference has reached Manager to manager 10:10am {at} "
            "Dr David Chen In the inbox, not read Not emailed "
            + services.delivery.NOT_EMAILED_INACTIVE,
            "a professional difference has been escalated to you (Manager to manager) "
            f"10:10am {at} Jo Evans In the inbox, not read Queued Waiting to be sent",
            f"escalated to Manager to manager 10:10am {at} Dr Emma Clarke In the inbox, not read "
            "Queued Waiting to be sent",
            f"Children's Social Care upheld its decision 10:05am {at} Dr Emma Clarke "
            "In the inbox, not read Retrying Try 1 failed: Could not reach the mail server "
            f"127.0.0.1:{mail_server.port}: Connection refused. Next try at 10:06am {at}.",
            f"an email to Sam Okafor could not be delivered 10:00am {at} Ruth Adeyemi "
            "In the inbox, not read Not emailed "
            + services.delivery.NOT_EMAILED_PARTNERSHIP_NOTICE,
            f"Dr Emma Clarke has raised a professional difference: you support them 10:00am {at} "
            f"Dr David Chen In the inbox, not read Sent Sent at 10:00am {at} "
            "The whole message (a secure address)",
            f"a professional difference needs your response by 5pm on Friday 27 November 2026 "
            f"10:00am {at} Sam Okafor In the inbox, not read Failed After 1 try: The mail "
            "server refused the address: 550 5.1.1 No such user here. The partnership has been "
            "told.",
            f"your difference has been raised 10:00am {at} Dr Emma Clarke In the inbox, not read "
            f"Sent Sent at 10:00am {at} The whole message (a secure address)",
        ], person
