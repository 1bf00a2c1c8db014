"""Property-based fuzzing (Hypothesis) of every form and every command: whatever is sent (any
Unicode, NUL and control characters, text far too long, a file, several values, nothing), the
answer is never a server error or a traceback, and a refusal changes nothing.

A form or a command with no entry here fails the test, so a new one is fuzzed too."""

import inspect
import io
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalate import notify, services
from escalate.cli import escalate_group
from escalate.extensions import db
from escalate.models import AgreedAction, Base, ChronologyEntry, Role, User
from escalate.services.accounts import create_invitation
from tests import factories, partnership
from tests.conftest import ACCESS_LOG, hidden_fields, sign_in, submit
from tests.test_input import FORM_MODULES

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
# Examples per form and per command: FUZZ_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the working copy
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
COUNTED = {"form requests": 0, "command runs": 0}


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture(autouse=True)
def no_mail(monkeypatch):
    """Invitations and notifications go nowhere (and nothing is written to the instance folder)."""

    class Nowhere:
        def send(self, message):
            pass

    monkeypatch.setattr(notify, "sender_from_config", lambda config, path: Nowhere())


def snapshot(app) -> dict:
    """Every row but the access log's (each page shown adds to it: that saves nothing sent)."""
    with app.app_context():
        rows = {
            table.name: [
                tuple(row)
                for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
            if table.name not in ACCESS_LOG
        }
        db.session.remove()
    return rows


# --- What is sent -------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
ODD = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\r\n", "\u200b", "0", "-1", "9" * 40, "1.5", "yes", "no",
     "agreed", "upheld", "police", "1", "2", "27", "17:00", "english", "<script>", "RPD-2026-1"]
)
LONG = st.builds(lambda n, c: c * n, st.integers(10_001, 40_000), st.sampled_from(["x", "é", "汉"]))
FILE = st.binary(max_size=64).map(lambda data: (io.BytesIO(data), "answer.txt"))
VALUE = st.one_of(TEXT, ODD, LONG, FILE)
FIELD = st.one_of(st.none(), VALUE, st.lists(st.one_of(TEXT, ODD), min_size=2, max_size=3))


# --- Every form, where it is used ---------------------------------------------------------------


@dataclass(frozen=True)
class FormPage:
    who: str | None  # a person of tests/partnership.py, or None for someone signed out
    url: str  # with {d1} (waiting for a response), {d2} (waiting for the raiser), {d3} (closed)
    method: str = "POST"


FORM_PAGES = {
    "SignInForm": FormPage(None, "/sign-in"),
    "SecondStepForm": FormPage("chair, password only", "/sign-in/code"),
    "SetUpTwoFactorForm": FormPage("gp", "/account/two-factor"),
    "TwoFactorSettingForm": FormPage("admin", "/admin/sign-in"),
    "SetPasswordForm": FormPage(None, "/set-password/{token}"),
    "ConfirmForm": FormPage("admin", "/admin/users/{spare}/deactivate"),
    "AgencyForm": FormPage("admin", "/admin/agencies/new"),
    "AccountForm": FormPage("admin", "/admin/users/invite"),
    "StageContactForm": FormPage("admin", "/admin/agencies/{csc}"),
    "SafeguardingLeadForm": FormPage("admin", "/admin/agencies/{csc}/safeguarding-leads"),
    "StageForm": FormPage("admin", "/admin/policy/stages/1"),
    "CalendarForm": FormPage("admin", "/admin/calendar"),
    "ClosureDayForm": FormPage("admin", "/admin/calendar/closure-days"),
    "ActNowForm": FormPage("admin", "/admin/act-now"),
    "UrgentStartForm": FormPage("admin", "/admin/policy/urgent-start"),
    "ReportForm": FormPage("chair", "/oversight/report", "GET"),
    "LearningNoteForm": FormPage("chair", "/oversight/differences/{d3}/learning-note"),
    "LearningUpdateForm": FormPage("chair", "/oversight/learning/{note}"),
    "ImpactForm": FormPage("chair", "/oversight/report/impact?from=2026-10-01&to=2026-12-31"),
    "CorrectionForm": FormPage("chair", "/differences/{d2}/correct"),
    "AccessLogForm": FormPage("auditor", "/access-log", "GET"),
    "RiskForm": FormPage("gp", "/differences/new"),
    "DifferenceForm": FormPage("gp", "/differences/new/details?urgent=no"),
    "ActionForm": FormPage("sw", "/differences/{d1}/respond"),
    "RespondForm": FormPage("sw", "/differences/{d1}/respond"),
    "AcceptForm": FormPage("gp", "/differences/{d2}/accept"),
    "EscalateForm": FormPage("gp", "/differences/{d2}/escalate"),
    "DecideForm": FormPage("chair", "/differences/{d1}/decide"),  # refused: not the final stage
    "WithdrawForm": FormPage("gp", "/differences/{d1}/withdraw"),
    "ExtendForm": FormPage("sw", "/differences/{d1}/extend"),
    "AnswerExtensionForm": FormPage("gp", "/differences/{d1}/more-time"),
    "ReassignForm": FormPage("tm", "/differences/{d1}/reassign"),
    "ConversationForm": FormPage("gp", "/differences/{d1}/conversation"),
    # The GP's line manager supports them, and leads at stage 2 (d5, waiting for the raiser);
    # at stage 3 the designated doctor has proposed withdrawing d4, for the GP to answer.
    "AdviceForm": FormPage("gp_lead", "/differences/{d1}/advice"),
    "ProposeAcceptForm": FormPage("gp_lead", "/differences/{d5}/propose-accept"),
    "ProposeWithdrawForm": FormPage("gp_lead", "/differences/{d5}/propose-withdraw"),
    "AnswerProposalForm": FormPage("gp", "/differences/{d4}/answer-proposal"),
    # Social care's agreed action on d1: its owner marks it done; the raiser follows it up.
    "MarkDoneForm": FormPage("sw", "/differences/{d1}/actions/{action}/done"),
    "FollowUpForm": FormPage("gp", "/differences/{d1}/actions/{action}/follow-up"),
    # A professionals' meeting on d1, arranged for the day the fuzzing runs.
    "ArrangeMeetingForm": FormPage("gp", "/differences/{d1}/arrange-meeting"),
    "MeetingOutcomeForm": FormPage("gp", "/differences/{d1}/meetings/{meeting}/outcome"),
    "MinutesForm": FormPage("gp", "/differences/{d1}/meetings/{meeting}/minutes"),
    "MinutesDaysForm": FormPage("admin", "/admin/policy/meeting-minutes"),
    "RecordedForm": FormPage("sw", "/differences/{d2}/records/{entry}"),
}


def every_form() -> dict:
    return {
        cls.__name__: cls
        for module in FORM_MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and hasattr(cls, "validate_on_submit")
    }


def test_every_form_is_fuzzed():
    assert set(every_form()) == set(FORM_PAGES)


@pytest.fixture
def world(app):
    """The test partnership with a difference waiting for a response (d1), one waiting for the
    raiser (d2) and a withdrawn one (d3); an unused set-password link; a spare account."""
    with app.app_context():
        people = partnership.build()
        spare = factories.user(Role.PRACTITIONER, agency=people.police, name="Spare Account")
        db.session.commit()

        def raised():
            return services.differences.raise_difference(
                people.gp,
                factories.new_difference(people.csc, named_professional_id=people.sw.id),
                NOW,
            )

        d1, d2, d3 = raised(), raised(), raised()
        services.differences.respond(
            people.sw, d2.id, d2.version, outcome="upheld",
            rationale="The threshold for a section 47 enquiry is not met on what we know.",
            child_impact="Early help continues with the family.", now=NOW,
        )
        services.differences.withdraw(
            people.gp, d3.id, d3.version,
            rationale="The family has moved to another authority, which has the case now.",
            now=NOW,
        )
        why = "This needs a decision above my level, so it goes to the next stage now."
        d4, d5 = raised(), raised()
        for who in (people.sw, people.tm):
            services.differences.escalate(who, d4.id, d4.version, rationale=why, now=NOW)
        services.proposals.propose(
            people.designated, d4.id, d4.version, kind="withdraw", now=NOW,
            rationale="The family has moved away and the new authority has the case now.",
        )
        services.differences.escalate(people.sw, d5.id, d5.version, rationale=why, now=NOW)
        services.differences.respond(
            people.tm, d5.id, d5.version, outcome="upheld",
            rationale="The threshold for a section 47 enquiry is not met on what we know.",
            child_impact="Early help continues with the family.", now=NOW,
        )
        note = services.learning.add_learning_note(
            people.chair, d3.reference,
            "Check a family's move with the new authority before closing the case.", NOW,
            recommendation="Add a transfer check to the closing summary for every family.",
            owner=services.learning.Owner(people.csc.id, None, date(2027, 1, 29)),
        )
        action = AgreedAction(
            difference_id=d1.id, stage_id=d1.stages[0].id, event_id=d1.events[0].id,
            number=1, what="A strategy discussion.", agency_id=people.csc.id,
            owner_id=people.sw.id, due_on=NOW.date(), ask_at=NOW,
        )  # fmt: skip
        db.session.add(action)
        meeting = services.meetings.arrange_meeting(
            people.gp, d1.id, None, meets_on=NOW.date(), invited="Both agencies' leads.",
            chair="Jo Evans, team manager", now=NOW,
        )  # fmt: skip
        newcomer = factories.user(Role.AUDITOR, name="New Person")
        newcomer.password_hash = None
        token, _ = create_invitation(newcomer, people.admin, NOW, app.config["SECRET_KEY"])
        db.session.commit()
        built = SimpleNamespace(
            people={k: (v.id, getattr(v, "email", None)) for k, v in vars(people).items()},
            values={
                "d1": d1.reference, "d2": d2.reference, "d3": d3.reference, "token": token,
                "d4": d4.reference, "d5": d5.reference,
                "spare": spare.id, "csc": people.csc.id, "note": note.id,
                "action": action.id, "meeting": meeting.id,
                # Children's social care's entry for the response to d2.
                "entry": db.session.scalar(
                    sa.select(ChronologyEntry.id).where(
                        ChronologyEntry.difference_id == d2.id,
                        ChronologyEntry.agency_id == people.csc.id,
                    )
                ),
            },
        )
        db.session.remove()
    return built


def _browser(app, world, who):
    browser = app.test_client()
    if who is not None and who.endswith(", password only"):
        # The password is right; the sign-in waits for the code from the app.
        _, email = world.people[who.split(",")[0]]
        response = submit(browser, "/sign-in", {"email": email, "password": factories.PASSWORD})
        assert response.location.endswith("/sign-in/code")
    elif who is not None:
        user_id, email = world.people[who]
        sign_in(browser, SimpleNamespace(id=user_id, email=email))
    return browser


def _field_names(app, cls, url) -> list[str]:
    with app.test_request_context(url):
        return [field.name for field in cls() if field.name != "csrf_token"]


@pytest.mark.parametrize("form_name", sorted(FORM_PAGES))
def test_any_input_to_a_form_is_answered_without_an_error_and_a_refusal_saves_nothing(
    app, world, form_name
):
    page = FORM_PAGES[form_name]
    url = page.url.format(**world.values)
    browser = _browser(app, world, page.who)
    names = _field_names(app, every_form()[form_name], url)

    @FUZZ
    @given(data=st.data())
    def fuzz(data):
        sent = {name: data.draw(FIELD, label=name) for name in names}
        sent = {name: value for name, value in sent.items() if value is not None}
        before = snapshot(app)
        if page.method == "GET":
            flat = {k: v for k, v in sent.items() if not isinstance(v, tuple)}
            response = browser.get(url, query_string=flat)
        else:
            shown = browser.get(url)
            hidden = hidden_fields(shown.get_data(as_text=True)) if shown.status_code == 200 else {}
            if data.draw(st.booleans(), label="keep the page's version"):
                sent.pop("version", None)
            if "/details" in url and data.draw(st.booleans(), label="confirm"):
                sent["confirm"] = "yes"
            response = browser.post(url, data={**hidden, **sent})
        COUNTED["form requests"] += 1
        response.get_data()
        assert response.status_code < 500, f"{form_name}: {response.status_code} for {sent!r}"
        if response.status_code != 302:
            assert snapshot(app) == before, f"{form_name} refused {sent!r} and changed data"

    fuzz()


def test_every_query_string_of_the_unresolved_list_is_answered(app, world):
    browser = _browser(app, world, "chair")
    keys = ["agency", "side", "stage", "theme", "waiting", "min_age", "sort", "only", "page"]

    @FUZZ
    @given(args=st.dictionaries(st.sampled_from(keys), st.one_of(TEXT, ODD), max_size=6))
    def fuzz(args):
        for path in ("/oversight/unresolved", "/oversight/unresolved.csv"):
            response = browser.get(path, query_string=args)
            response.get_data()
            COUNTED["form requests"] += 1
            assert response.status_code < 500, (path, args)

    fuzz()


# --- Every command ------------------------------------------------------------------------------

# Arguments as a terminal passes them: any text, bytes that are not UTF-8 (surrogate escapes).
ARG = st.one_of(
    st.text(max_size=30),
    ODD,
    st.binary(min_size=1, max_size=12).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.integers(-(10**30), 10**30).map(str),
)
CSV_VALUE = st.one_of(
    st.text(max_size=30), ODD, st.sampled_from(['"', '","', "a,b", "police", "admin", "\n"])
)


def csv_file(columns):
    row = st.lists(CSV_VALUE, min_size=len(columns) - 1, max_size=len(columns) + 1)

    def build(rows, tail):
        lines = [",".join(columns)] + [",".join(values) for values in rows]
        return "\n".join(lines).encode("utf-8", "surrogateescape") + tail

    return st.builds(build, st.lists(row, min_size=1, max_size=4), st.binary(max_size=8))


COMMANDS = {
    "create-user": st.builds(
        lambda email, name, role, agency, title: [
            "--email", email, "--name", name, "--role", role, "--job-title", title,
            *(["--agency", agency] if agency is not None else []),
        ],
        st.one_of(ARG, st.just("new.person@example.org")),
        ARG,
        st.sampled_from(["admin", "practitioner", "auditor", "ADMIN", "overlord"]),
        st.one_of(st.none(), ARG, st.just("Northshire Police")),
        ARG,
    ),
    "import-agencies": csv_file(["name", "kind"]),
    "import-users": csv_file(
        ["email", "name", "job_title", "role", "agency", "line_manager_email"]
    ),
    "report": st.lists(st.sampled_from(["--from", "--to"]).flatmap(
        lambda option: st.tuples(st.just(option), st.one_of(ARG, st.just("2026-07-01")))
    ), max_size=2).map(lambda pairs: [part for pair in pairs for part in pair]),
    "deliver": st.one_of(st.just([]), ARG.map(lambda value: ["--limit", value])),
    "worker": ARG.map(lambda value: ["--once", "--interval", value]),
    "verify-audit": ARG.map(lambda value: ["--batch-size", value]),
    "sweep": st.sampled_from([[], ["--dry-run"], ["--dry-run", "extra"]]),
    "seed-demo": st.sampled_from([["unexpected"]]),  # its run is tested in tests/test_cli.py
    "checkpoint": st.lists(st.sampled_from(["--full", "--email", "extra"]), max_size=3),
    "count-inboxes": st.one_of(st.just([]), ARG.map(lambda value: [value])),
    "reseal-history": st.one_of(
        st.just([]), ARG.map(lambda value: ["--reason", value])
    ),
    # Its run is tested in tests/test_scale.py; here, the arguments it must refuse.
    "seed-bench": st.one_of(
        ARG.filter(lambda value: not value.strip().isdigit()).map(
            lambda value: ["--differences", value]
        ),
        st.sampled_from([["--differences", "0"], ["--people", "99"], ["unexpected"]]),
    ),
}


def test_every_command_is_fuzzed():
    assert set(escalate_group.commands) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_any_arguments_to_a_command_end_in_a_message_never_a_traceback(
    app, runner, tmp_path, command
):
    with app.app_context():
        factories.agency("Northshire Police")
        factories.user(Role.ADMIN, email="admin@example.org")
        db.session.commit()
        db.session.remove()

    # An environment variable cannot hold a NUL; anything else may come in it.
    password = st.one_of(ARG, st.just("a long passphrase ok")).filter(lambda p: "\x00" not in p)

    @FUZZ
    @given(arguments=COMMANDS[command], password=password)
    def fuzz(arguments, password):
        if isinstance(arguments, bytes):
            path = tmp_path / "import.csv"
            path.write_bytes(arguments)
            arguments = [str(path)]
        before = snapshot(app)
        result = runner.invoke(
            args=["escalate", command, *arguments],
            env={"ESCALATE_NEW_USER_PASSWORD": password},
        )
        COUNTED["command runs"] += 1
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{command} {arguments!r}: {result.exception!r}\n{result.output}"
        )
        assert result.exit_code in (0, 1, 2), (command, arguments, result.output)
        assert "Traceback" not in result.output
        if result.exit_code != 0:
            assert snapshot(app) == before, f"{command} {arguments!r} failed and changed data"
        with app.app_context():
            # Whatever was accepted can be stored and read back on this database.
            db.session.scalars(sa.select(User)).all()
            db.session.remove()

    fuzz()


def test_fuzzing_figures(capsys):
    # Printed with -s: how many inputs the runs above tried.
    with capsys.disabled():
        print(f"\nfuzzing: {COUNTED['form requests']} form requests, "
              f"{COUNTED['command runs']} command runs")
