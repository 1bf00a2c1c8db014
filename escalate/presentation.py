"""What every page shares: the role's navigation, and dates and times as people read them."""

import re
from collections.abc import Callable
from datetime import date, datetime

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from escalate import history, queries, wording
from escalate.fields import choice_id
from escalate.models import AGENCY_ROLES, LearningStatus, Role
from escalate.wording import (
    EMAIL_FORM_LABELS,
    EVENT_TEXT_LABELS,
    MAX_TEXT_CHARACTERS,
    ROW_TEXT_LABELS,
    long_date,
    outcome_label,
    plural,
    time_and_date,
)
from escalate.workflow import CHANGE_LOG_READERS, OVERSIGHT_ROLES, InvalidRequest


def navigation_for(user, endpoint: str | None) -> list[dict]:
    """Service navigation items for the signed-in user (none for a visitor)."""
    if not getattr(user, "is_authenticated", False):
        return []
    items = []
    if user.role in AGENCY_ROLES:
        items.append(("raising.start", "Raise a difference"))
    if user.role in (*AGENCY_ROLES, Role.PARTNERSHIP):
        items.append(("respond.waiting", "Waiting for you"))
        items.append(("raising.mine", "Your differences"))
    if user.role in OVERSIGHT_ROLES:
        items.append(("oversight.dashboard", "Dashboard"))
        items.append(("oversight.unresolved", "Unresolved differences"))
        items.append(("oversight.report", "Report"))
        items.append(("oversight.learning", "Learning"))
        items.append(("records.access_log", "Access log"))
    if user.role == Role.ADMIN:
        items.append(("admin.index", "Administration"))
    if user.role in CHANGE_LOG_READERS:
        items.append(("admin.changes", "Changes"))
    unread = unread_count()
    items.append(("inbox.index", f"Inbox ({wording.unread(unread)} unread)" if unread else "Inbox"))
    items.append(("auth.account", "Your account"))
    return [
        {
            "href": url_for(target),
            "text": text,
            "active": endpoint in SECTIONS.get(target, {target}),
        }
        for target, text in items
    ]


# Pages that belong under another's menu item.
SECTIONS = {"oversight.dashboard": {"oversight.dashboard", "oversight.dashboard_section"}}


def hold_inbox_counts(person_id: int, counts: "queries.inbox.InboxCounts") -> None:
    """The inbox's tally read with the person signed in (the navigation shows the unread, the
    inbox both): held until the request commits a change to it (a message opened, or sent to
    the person)."""
    g.inbox_counts = (person_id, counts)


def forget_inbox_counts(session) -> None:
    from escalate import services

    held = g.get("inbox_counts") if has_app_context() else None
    if held is not None and held[0] in services.inbox.tallies_changed(session):
        g.pop("inbox_counts")


def inbox_counts() -> "queries.inbox.InboxCounts":
    """The signed-in person's messages, and how many are unread."""
    held = g.get("inbox_counts")
    if held is None or held[0] != current_user.id:
        hold_inbox_counts(current_user.id, queries.inbox.counts(current_user))
    return g.inbox_counts[1]


def unread_count() -> int:
    """The signed-in person's unread messages as the navigation shows them."""
    return inbox_counts().unread


def home_for(user) -> str:
    """Where the service's start page sends a signed-in user."""
    if user.role in (*AGENCY_ROLES, Role.PARTNERSHIP):
        return url_for("respond.waiting")
    if user.role == Role.AUDITOR:
        return url_for("oversight.dashboard")
    if user.role == Role.ADMIN:
        return url_for("admin.index")
    return url_for("inbox.index")


# Values no list gives, put where each row's goes: text where the route takes any text (a
# reference, a query's value), else a number (an id).
_PLACEHOLDERS = ("rowlink1987654321", 1_987_654_321)
# Characters a URL carries as they are, in its path and in its query alike.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")


def row_link(endpoint: str, argument: str, **values) -> Callable[[object], str]:
    """``url_for(endpoint, **values, argument=value)`` for each row of a list, from one call
    to ``url_for`` (about 12 µs each; a list links 25 to 50 rows): the URL is built once with a
    placeholder for ``argument``, and each row's value is put in its place.

    Only values whose place in a URL is their own text take that way: a whole number (``int``,
    not ``bool``), and, where the route takes any text, a string of characters a URL never
    quotes. Any other value (one a URL would quote, ``None``, a number as text for a route of
    numbers) is given to ``url_for`` itself, as is every value if no placeholder stands in."""

    def each(value) -> str:
        return url_for(endpoint, **values, **{argument: value})

    for placeholder in _PLACEHOLDERS:
        try:
            built = each(placeholder)
        except (BuildError, ValueError):
            continue
        marker = str(placeholder)
        if built.count(marker) != 1:
            return each
        before, _, after = built.partition(marker)
        takes_text = isinstance(placeholder, str)

        def placed(value, before=before, after=after, takes_text=takes_text) -> str:
            kind = type(value)
            if kind is int or (
                takes_text and kind is str and _UNRESERVED.fullmatch(value) is not None
            ):
                return f"{before}{value}{after}"
            return each(value)

        return placed
    return each


def init_app(app: Flask) -> None:
    if not sa.event.contains(Session, "after_commit", forget_inbox_counts):
        sa.event.listen(Session, "after_commit", forget_inbox_counts)
    app.add_template_global(row_link)
    app.add_template_filter(time_and_date, "london_datetime")
    app.add_template_filter(long_date)
    app.add_template_filter(plural)
    app.add_template_filter(outcome_label)
    app.add_template_filter(lambda form: EMAIL_FORM_LABELS.get(form, ""), "email_form_label")

    @app.context_processor
    def shared():
        return {
            "service_name": app.config["SERVICE_NAME"],
            "max_text_characters": MAX_TEXT_CHARACTERS,
            # Made when the layout asks for it: the form fields' own small templates, each
            # rendered as a template of its own, do not make it again.
            "navigation": lambda: navigation_for(current_user, request.endpoint),
            "partnership_numbers": partnership_numbers,
            "not_set": wording.NOT_SET,
        }


def partnership_numbers() -> list[tuple[str, str]]:
    """The partnership's numbers for the footer of every page, read once a request. A page must
    never fail for its footer: without the settings (a database that is down or not set up) the
    footer gives 999 alone."""
    if "partnership_numbers" not in g:
        try:
            settings = queries.setup.partnership_settings()
            found = (settings.mash_phone, settings.out_of_hours_phone, settings.police_phone)
        except (SQLAlchemyError, InvalidRequest):
            found = ("", "", "")
        g.partnership_numbers = wording.partnership_numbers(*found)
    return g.partnership_numbers


def now() -> datetime:
    """The current instant, from the application's clock (tests set a fixed one)."""
    return current_app.config["CLOCK"]()


def log_access(kind, what: str, difference_id: int | None = None) -> None:
    """Record in the access log that the person signed in is viewing or downloading ``what``."""
    from escalate import services

    services.access.record(current_user, kind, now(), difference_id=difference_id, what=what)


def with_filters(what: str) -> str:
    """``what``, and the filters it was asked for with (the query string), for the access log."""
    asked = request.query_string.decode("utf-8", "replace")
    return f"{what} ({asked})" if asked else what


def attach_error(form, error) -> None:
    """Show a rule's refusal on the form field it is about (or the form's first field); every
    refusal, when the rules found several (FieldErrors). A field the form itself found wrong
    already keeps its own message: one message a field."""
    for each in getattr(error, "errors", [error]):
        name = form.error_field(each.field) if hasattr(form, "error_field") else each.field
        field = getattr(form, name, None) or next(iter(form))
        if not field.errors:
            field.errors = [str(each)]


def page_number(name: str = "page") -> int:
    """The page of a list asked for in the query string. Anything but a whole number from 1 up
    (junk, 0, -3, a number too long to be a page) asks for the first page: nothing worth a
    message."""
    return choice_id(request.args.get(name, "")) or 1


EVENT_TITLES = {
    "raised": "Difference raised",
    "responded": "Response",
    "accepted": "Response accepted: resolved",
    "escalated": "Escalated",
    "decided": "Partnership decision: resolved",
    "withdrawn": "Withdrawn",
    "extended": "Deadline extended",
    "extension_requested": "More time asked for",
    "extension_agreed": "More time agreed: deadline moved",
    "extension_refused": "More time refused",
    "extension_lapsed": "Request for more time lapsed",
    "reassigned": "Reassigned",
    "conversation": "Conversation recorded",
    "learning_note": "Learning note",
    "learning_updated": "Learning note updated",
    "deadline_recomputed": "Deadline recomputed",
    "overdue": "The response deadline was missed",
    "corrected": "Mistaken entry corrected",
    "anonymised": "Anonymised under the retention policy",
    "proposed": "Proposal to the raiser",
    "proposal_objected": "Proposal objected to: the difference goes on",
    "advice": "Advice from the raiser's supporter",
    "closed_no_reply": "Closed: no reply from the raising side",
    "meeting_arranged": "Meeting arranged",
    "meeting_held": "Meeting held: outcome recorded",
    "minutes_recorded": "Meeting's minutes recorded",
    "action_due": "Agreed action due: its owner asked if it is done",
    "action_done": "Agreed action done",
    "follow_up_raised": "Follow-up difference raised from a missed action",
    "chronology_recorded": "Outcome recorded on an agency's own record",
}

PROPOSALS = {"accept": "Accepting the response", "withdraw": "Withdrawing the difference"}


def _learning_lines(data) -> list[tuple[str, str]]:
    """A structured learning note's recommendation, owner, due date and status (older notes
    had none of them)."""
    if not data.get("recommendation"):
        return []
    owner = data.get("owner_agency") or wording.NOT_SET
    if data.get("owner"):
        owner = f"{data['owner']}, {owner}"
    due = data.get("due_on")
    return [
        ("Recommendation", data["recommendation"]),
        ("Owner", owner),
        ("Due", long_date(date.fromisoformat(due)) if due else wording.NOT_SET),
        ("Status", LearningStatus(data.get("status", "open")).label),
    ]


def _learning_update_lines(data) -> list[tuple[str, str]]:
    lines = []
    if data.get("status_to"):
        was, now_ = LearningStatus(data["status_from"]), LearningStatus(data["status_to"])
        lines.append(("Status", f"{was.label} to {now_.label}"))
    if "owner_to" in data:
        lines.append(("Owner", f"{data.get('owner_from')} to {data['owner_to']}"))
    if data.get("due_to"):
        was = long_date(date.fromisoformat(data["due_from"])) if data.get("due_from") else "Not set"
        lines.append(("Due", f"{was} to {long_date(date.fromisoformat(data['due_to']))}"))
    lines.append(("Reason", data.get("reason", "")))
    return lines


def row_removals(erasures) -> list[str]:
    """Which of the difference's own details were removed, and why."""
    row = history.erased_in(erasures).get(None, {})
    return [removal_note(name, why, event_texts=False) for name, why in row.items()]


def removal_note(name: str, why: str | None, *, event_texts: bool) -> str:
    """Where a text was removed, and why, in the words of the page."""
    label = (EVENT_TEXT_LABELS if event_texts else ROW_TEXT_LABELS).get(name, name)
    if why == history.CORRECTION:
        return f"{label}: entered by mistake and removed (see the correction)"
    return f"{label}: removed under the retention policy"


def agreed_action_lines(data: dict) -> list[tuple[str, str]]:
    """An agreed action's event, as the history shows it."""
    lines = [
        (f"Action {data.get('number', '')}", data.get("action", "")),
        ("Agency", data.get("agency", "")),
    ]
    if data.get("due_on"):
        lines.append(("Due by", long_date(date.fromisoformat(data["due_on"]))))
    if data.get("owner"):
        lines.append(("Asked", data["owner"]))
    if data.get("what_was_done"):
        lines.append(("What was done", data["what_was_done"]))
    if data.get("follow_up"):
        lines.append(("Follow-up difference", data["follow_up"]))
    return lines


def timeline(events, erasures=None) -> list[dict]:
    """A difference's history as MOJ timeline items: newest first, each with labelled lines;
    where a text was erased (``erasures``, the difference's), why and by which event."""
    erased = history.erased_in(erasures)
    items = []
    for event in events:
        data = event.details
        lines = []
        kind = str(event.kind)
        if kind in ("raised", "escalated"):
            if kind == "escalated":
                lines.append(("From", data.get("from_stage", "")))
                lines.append(("Reason", data.get("rationale", "")))
            lines.append(("Stage", data.get("stage", "")))
            lines.append(("Responding", ", ".join(data.get("responders", [])) or "Nobody found"))
            if data.get("leads"):
                lines.append(("Leading for the raising side", ", ".join(data["leads"])))
            if event.deadline:
                lines.append(("Response due", time_and_date(event.deadline)))
            if data.get("supporters"):
                lines.append(("Supporting the raiser", ", ".join(data["supporters"])))
            if data.get("follows"):
                lines.append(("Follows a missed action agreed in", data["follows"]))
        elif kind in ("responded", "decided"):
            lines.append(("Outcome", outcome_label(data.get("outcome"))))
            for key, label in (
                ("agreed_actions", "Actions agreed"),
                ("decision", "Decision"),
                ("rationale", "Reasons"),
                ("child_impact", "What this means for the child"),
            ):
                if data.get(key):
                    lines.append((label, data[key]))
            if data.get("reply_by"):
                lines.append(("Raising side to answer by", _when(data["reply_by"])))
        elif kind == "accepted":
            lines.extend(_proposal_lines(data))
            lines.append(("Comment", data.get("comment") or "None"))
        elif kind == "withdrawn":
            lines.extend(_proposal_lines(data))
            if not data.get("proposed_by"):
                lines.append(("Reason", data.get("rationale", "")))
            elif data.get("comment"):
                lines.append(("Comment", data["comment"]))
        elif kind == "proposed":
            lines.append(("Proposes", PROPOSALS.get(data.get("proposal"), "")))
            lines.append(("Reason", data.get("rationale", "")))
            lines.append(("Raiser to confirm or object by", _when(data.get("reply_by"))))
        elif kind == "proposal_objected":
            lines.append(("Proposal", PROPOSALS.get(data.get("proposal"), "")))
            lines.append(("Proposed by", data.get("proposed_by", "")))
            lines.append(("Why the raiser objects", data.get("reason", "")))
        elif kind == "advice":
            lines.append(("Advice", data.get("advice", "")))
        elif kind == "closed_no_reply":
            lines.append(("Reason", data.get("reason", "")))
        elif kind == "extended":
            lines.append(("Extended by", f"{data.get('days')} working days"))
            lines.append(("Reason", data.get("rationale", "")))
            lines.append(("Response now due", time_and_date(event.deadline)))
        elif kind.startswith("extension_"):
            lines.append(("New deadline asked for", _when(data.get("proposed_deadline"))))
            lines.append(("Reason", data.get("rationale", "")))
            if kind == "extension_agreed":
                lines.append(("Was due", _when(data.get("previous_deadline"))))
                lines.append(("Response now due", time_and_date(event.deadline)))
            elif kind == "extension_refused":
                lines.append(("Refused because", data.get("answer", "")))
                lines.append(("Response still due", time_and_date(event.deadline)))
            elif kind == "extension_lapsed":
                lines.append(("Response still due", time_and_date(event.deadline)))
            if kind == "extension_agreed" and data.get("answer"):
                lines.append(("Comment", data["answer"]))
        elif kind == "reassigned":
            lines.append(("Now responding", data.get("new_responder", "")))
            lines.append(("Reason", data.get("rationale", "")))
        elif kind == "conversation":
            lines.append(("Held on", long_date(date.fromisoformat(data["held_on"]))))
            lines.append(("Who took part", data.get("participants", "")))
            lines.append(("What was agreed", data.get("agreed", "")))
        elif kind == "learning_note":
            lines.append(("What the partnership learned", data.get("text", "")))
            lines.extend(_learning_lines(data))
        elif kind == "learning_updated":
            lines.extend(_learning_update_lines(data))
        elif kind in ("meeting_arranged", "meeting_held", "minutes_recorded"):
            lines.extend(_meeting_lines(data))
        elif kind == "deadline_recomputed":
            if data.get("previous_deadline"):
                previous = datetime.fromisoformat(data["previous_deadline"])
                lines.append(("Was due", time_and_date(previous)))
            lines.append(("Response now due", time_and_date(event.deadline)))
            lines.append(("Why", "The partnership's stage policy or calendar changed"))
        elif kind == "corrected":
            lines.append(("Entry corrected", data.get("entry_label", "")))
            lines.append(("Why it was wrong", data.get("rationale", "")))
            lines.append(
                ("Corrected text", data.get("corrected_text") or "None: the entry was removed")
            )
        elif kind == "anonymised":
            years = data.get("retention_years")
            lines.append(
                (
                    "Why",
                    f"The retention policy keeps a closed difference's details for "
                    f"{plural(years or 0, 'year')}: the child's details and every text were "
                    "removed; the figures and dates are kept",
                )
            )
        elif kind in ("action_due", "action_done", "follow_up_raised"):
            lines.extend(agreed_action_lines(data))
        elif kind == "chronology_recorded":
            lines.append(("Agency", data.get("agency", "")))
            lines.append(
                ("Recorded in its system on", long_date(date.fromisoformat(data["recorded_on"])))
            )
            lines.append(("Outcome", EVENT_TITLES.get(data.get("outcome"), "")))
        elif kind == "overdue":  # recorded by the deadline sweep
            lines.append(("Response was due", time_and_date(event.deadline)))
            lines.append(("Waiting for", ", ".join(data.get("responders", [])) or "Nobody found"))
            lines.append(("What happens next", _after_overdue(data)))
        # What the service did by itself (a missed deadline, an automatic escalation) says so,
        # rather than naming the service as if it were a person.
        if data.get("automatic") or event.actor is None:
            by = "Recorded automatically"
        else:
            by = f"by {event.actor.name}"
        for name, why in erased.get(event.sequence, {}).items():
            lines.append(("Text removed", removal_note(name, why, event_texts=True)))
        items.append(
            {
                "title": EVENT_TITLES.get(kind, kind),
                "by": by,
                "at": event.at,
                "stage_level": event.stage_level,
                "lines": [line for line in lines if line[1]],
            }
        )
    return list(reversed(items))


def _meeting_lines(data: dict) -> list[tuple[str, str]]:
    """A professionals' meeting's event in the history (follow-through)."""
    from escalate.models import MeetingKind

    def day(key):
        return long_date(date.fromisoformat(data[key])) if data.get(key) else ""

    kind = data.get("kind")
    return [
        ("Kind", MeetingKind(kind).label if kind in set(MeetingKind) else ""),
        ("Date", day("meets_on")),
        ("Chair", data.get("chair", "")),
        ("Who is invited", data.get("invited", "")),
        ("Who attended", data.get("attendees", "")),
        ("What was agreed", data.get("agreed", "")),
        ("Minutes due by", day("minutes_due_on") if "minutes_recorded_on" not in data else ""),
        ("Minutes recorded on", day("minutes_recorded_on")),
    ]


def _when(text: str | None) -> str:
    return time_and_date(datetime.fromisoformat(text)) if text else ""


def _proposal_lines(data: dict) -> list[tuple[str, str]]:
    """How a lead's proposal came to take effect, on the event that applied it."""
    if not data.get("proposed_by"):
        return []
    how = (
        "Applied after no reply from the raiser by " + _when(data.get("reply_by"))
        if data.get("applied_after_no_reply")
        else "Confirmed by the person who raised it"
    )
    return [
        ("Proposed by", data["proposed_by"]),
        ("Reason for the proposal", data.get("proposal_rationale", "")),
        ("How", how),
    ]


# The history events that close a difference, and the response an acceptance closes it on.
CLOSING_EVENTS = ("accepted", "decided", "withdrawn")


def outcome_card(difference) -> dict | None:
    """How a closed difference ended, for the summary card at the top of its page: the title,
    then labelled lines (outcome, decision, reasons, what it means for the child, who and when).
    None while it is open."""
    if difference.closed_at is None:
        return None
    events = list(difference.events)
    # The event that closed it: one of CLOSING_EVENTS, else (a closure recorded some other way)
    # the last event before any learning note.
    closing = next((e for e in reversed(events) if str(e.kind) in CLOSING_EVENTS), None) or next(
        (e for e in reversed(events) if str(e.kind) != "learning_note"), None
    )
    title = difference.state.label
    if closing is None:
        return {"title": title, "lines": [("Closed", time_and_date(difference.closed_at))]}
    kind, data = str(closing.kind), closing.details
    lines = []
    if kind not in CLOSING_EVENTS:
        item = timeline([closing])[0]
        lines = [("What happened", item["title"]), *item["lines"]]
        lines.append(("Recorded", _by_and_when(closing)))
        return {"title": title, "lines": [line for line in lines if line[1]]}
    if kind == "accepted":
        response = next(
            (e for e in reversed(events[: events.index(closing)]) if str(e.kind) == "responded"),
            None,
        )
        answer = response.details if response else {}
        lines += _decision_lines(answer, data.get("outcome") or difference.outcome)
        if response is not None:
            lines.append(("Response from", _by_and_when(response)))
        lines.append(("Accepted by", _by_and_when(closing)))
        lines += _proposal_lines(data)
        lines.append(("Comment", data.get("comment", "")))
    elif kind == "decided":
        title = "Resolved by the partnership's decision"
        lines += _decision_lines(data, data.get("outcome"))
        lines.append(("Decided by", _by_and_when(closing)))
    else:
        if not data.get("proposed_by"):
            lines.append(("Reason", data.get("rationale", "")))
        lines.append(("Withdrawn by", _by_and_when(closing)))
        lines += _proposal_lines(data)
    return {"title": title, "lines": [line for line in lines if line[1]]}


def _decision_lines(data: dict, outcome) -> list[tuple[str, str]]:
    return [
        ("Outcome", outcome_label(outcome)),
        ("Decision", data.get("decision", "")),
        ("Actions agreed", data.get("agreed_actions", "")),
        ("Reasons", data.get("rationale", "")),
        ("What this means for the child", data.get("child_impact", "")),
    ]


def _by_and_when(event) -> str:
    who = event.actor.name if event.actor else "Recorded automatically"
    return f"{who}, {time_and_date(event.at)}"


def _after_overdue(data: dict) -> str:
    """What a missed deadline leads to, in the words of the timeline."""
    if data.get("escalated_automatically"):
        return f"It moved to the next stage ({data.get('next_stage')}) automatically."
    if data.get("next_stage"):
        who = ", ".join(data.get("next_responders", []))
        return f"The raising side can escalate it to {data['next_stage']}" + (
            f", where {who} would respond." if who else "."
        )
    return "The partnership was told that its decision is overdue."
