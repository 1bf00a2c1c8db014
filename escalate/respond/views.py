"""Acting on differences: the queue waiting for you, the difference page, and each action."""

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import calendar, chronology, presentation, queries, services, wording, workflow
from escalate.models import AccessKind
from escalate.respond import forms
from escalate.workflow import OVERSIGHT_ROLES, Action, FieldError, StaleDifference

bp = Blueprint("respond", __name__)

WAITING_PER_PAGE = 25
VIEWS_PER_PAGE = 20


@dataclass(frozen=True)
class ActionPage:
    action: Action
    form: type[forms.ActionForm]
    service: object
    done: str  # the confirmation shown after it succeeds


ACTION_PAGES = {
    "respond": ActionPage(
        Action.RESPOND,
        forms.RespondForm,
        services.differences.respond,
        "Your response has been sent. The person who raised it has been told.",
    ),
    "accept": ActionPage(
        Action.ACCEPT,
        forms.AcceptForm,
        services.differences.accept,
        "You accepted the response. The difference is resolved.",
    ),
    "escalate": ActionPage(
        Action.ESCALATE,
        forms.EscalateForm,
        services.differences.escalate,
        "The difference has been escalated to the next stage.",
    ),
    "decide": ActionPage(
        Action.DECIDE,
        forms.DecideForm,
        services.differences.decide,
        "The partnership's decision has been recorded and everyone told.",
    ),
    "withdraw": ActionPage(
        Action.WITHDRAW,
        forms.WithdrawForm,
        services.differences.withdraw,
        "The difference has been withdrawn.",
    ),
    "extend": ActionPage(
        Action.EXTEND,
        forms.ExtendForm,
        services.extension_requests.request_extension,
        "You asked for more time. The deadline moves only if the raising side agrees; until "
        "then, it stands.",
    ),
    "more-time": ActionPage(
        Action.ANSWER_EXTENSION,
        forms.AnswerExtensionForm,
        services.extension_requests.answer_extension,
        "Your answer has been recorded and the responder told.",
    ),
    "reassign": ActionPage(
        Action.REASSIGN,
        forms.ReassignForm,
        services.differences.reassign,
        "The difference has been reassigned.",
    ),
    "conversation": ActionPage(
        Action.RECORD_CONVERSATION,
        forms.ConversationForm,
        services.differences.record_conversation,
        "The conversation has been recorded.",
    ),
    "propose-accept": ActionPage(
        Action.PROPOSE_ACCEPT,
        forms.ProposeAcceptForm,
        services.proposals.propose,
        "Your proposal has been sent. The person who raised the difference will confirm or "
        "object; if they do not answer in time, the response is accepted.",
    ),
    "propose-withdraw": ActionPage(
        Action.PROPOSE_WITHDRAW,
        forms.ProposeWithdrawForm,
        services.proposals.propose,
        "Your proposal has been sent. The person who raised the difference will confirm or "
        "object; if they do not answer in time, the difference is withdrawn.",
    ),
    "answer-proposal": ActionPage(
        Action.ANSWER_PROPOSAL,
        forms.AnswerProposalForm,
        services.proposals.answer_proposal,
        "Your answer to the proposal has been recorded.",
    ),
    "advice": ActionPage(
        Action.ADD_ADVICE,
        forms.AdviceForm,
        services.support.add_advice,
        "Your advice has been added to the record. The person who raised it has been told.",
    ),
}
SLUGS = {page.action: slug for slug, page in ACTION_PAGES.items()}


@bp.app_template_global()
def action_url(difference, action: Action) -> str:
    return url_for("respond.act", reference=difference.reference, slug=SLUGS[action])


@bp.route("/waiting")
@login_required
def waiting():
    now = presentation.now()
    cal = queries.setup.working_calendar()
    pages = queries.differences.waiting_page(
        current_user, presentation.page_number(), WAITING_PER_PAGE
    )
    rows = queries.differences.rows(pages, now, cal)
    return render_template(
        "respond/waiting.html",
        to_confirm=queries.actions.to_confirm(current_user, now, cal),
        pages=pages,
        rows=rows,
        to_record=queries.chronology.to_record_page(
            current_user, presentation.page_number("records_page"), WAITING_PER_PAGE
        ),
        may_raise=workflow.may_raise(queries.differences.actor_for(current_user)),
        meetings_to_follow_up=queries.meetings.to_follow_up(current_user, now),
    )


@bp.route("/differences/<reference>")
@login_required
def show(reference):
    # The view is logged (and committed) first, so the difference is loaded once, after it.
    difference_id = queries.differences.find_difference_id(current_user, reference)
    presentation.log_access(
        AccessKind.VIEWED_DIFFERENCE, f"Difference {reference.strip().upper()}", difference_id
    )
    difference = queries.differences.load_difference(difference_id)
    now = presentation.now()
    cal = queries.setup.working_calendar()
    facts = queries.differences.facts(current_user, difference, now, cal)
    records = queries.chronology.page_section(current_user, difference, now, facts.situation)
    views = None
    if current_user.role in OVERSIGHT_ROLES:
        views = queries.access.views_of(
            difference, presentation.page_number("views_page"), VIEWS_PER_PAGE
        )
    return render_template(
        "respond/show.html",
        views=views,
        facts=facts,
        outcome=presentation.outcome_card(difference),
        timeline=presentation.timeline(difference.events, difference.erasures),
        removals=presentation.row_removals(difference.erasures),
        oversight=queries.differences.oversight_facts(
            current_user, difference, now, facts.situation
        ),
        notifications=queries.differences.notifications_about(difference),
        meetings=queries.meetings.for_page(current_user, difference, facts.situation, now),
        agreed=queries.actions.for_difference(
            current_user, difference, now, cal, facts.situation
        ),
        records=records,
        record_forms=_record_forms(records),
    )


def _record_forms(records) -> dict:
    """A form for each outcome the viewer's agency has still to confirm, by entry id."""
    if records is None:
        return {}
    return {
        entry.id: forms.RecordedForm(prefix=f"entry-{entry.id}")
        for outcome in records.outcomes
        for entry in outcome.entries
        if entry.may_confirm and not entry.confirmed
    }


@bp.route("/differences/<reference>/<slug>", methods=["GET", "POST"])
@login_required
def act(reference, slug):
    page = ACTION_PAGES.get(slug)
    if page is None:
        abort(404)
    difference = queries.differences.find_difference(current_user, reference)
    now = presentation.now()
    form = page.form(data={"version": difference.version} if request.method == "GET" else None)
    if isinstance(form, forms.ReassignForm):
        form.new_responder.choices = [(0, "Select a person")] + [
            (u.id, f"{u.name}, {u.job_title}")
            for u in queries.choices.possible_responders(difference)
        ]
    if isinstance(form, forms.ExtendForm):
        _offer_new_deadlines(form, difference, now)
    if isinstance(form, forms.RespondForm):
        form.offer_agencies(difference)
        form.today = calendar.to_local(now).date()
    status = 200
    if request.method == "GET":
        queries.differences.ensure_may(current_user, difference, page.action, now)
    elif form.validate_on_submit():
        try:
            page.service(current_user, difference.id, form.version.data, now=now, **form.values())
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            # Someone acted first: show the difference as it is now, with the form as typed.
            services.differences.forget_changes()
            difference = queries.differences.find_difference(current_user, reference)
            form.version.data = difference.version
            status = 409
        else:
            flash(page.done, "success")
            return redirect(url_for("respond.show", reference=reference))
    else:
        # A form with mistakes is shown again only to someone who may take the action: anyone
        # else is refused (403 or 409) whatever they sent.
        queries.differences.ensure_may(current_user, difference, page.action, now)
    return render_template(
        "respond/action.html",
        page=page,
        form=form,
        facts=queries.differences.facts(current_user, difference, now),
        stale=status == 409,
    ), status


def _offer_new_deadlines(form: forms.ExtendForm, difference, now) -> None:
    choices = queries.differences.extension_choices(difference, now)
    form.new_deadline.choices = choices
    if choices:
        form.new_deadline.description = (
            f"You can ask for up to {wording.plural(len(choices), 'more working day')} at this "
            "stage. The deadline moves only if the raising side agrees."
        )


@bp.route("/differences/<reference>/records/<int:entry_id>", methods=["GET", "POST"])
@login_required
def record(reference, entry_id):
    """An agency confirms it wrote an outcome on the child's own record. The difference's page
    holds the form; this page shows it again, with what was wrong, when it is refused."""
    difference = queries.differences.find_difference(current_user, reference)
    records = queries.chronology.page_section(current_user, difference, presentation.now())
    found = [
        (outcome, entry)
        for outcome in (records.outcomes if records else [])
        for entry in outcome.entries
        if entry.id == entry_id
    ]
    if not found:
        # Not an outcome of this difference that the viewer's agency writes down.
        queries.chronology.ensure_on_difference(difference, entry_id)
        raise workflow.NotAllowed(
            "Only the agency the entry is for can confirm that it is recorded in its system."
        )
    outcome, entry = found[0]
    if not entry.may_confirm:
        workflow.check_not_anonymised(difference.anonymised_at is not None)
        raise chronology.not_allowed_to_confirm(entry.agency)
    form = forms.RecordedForm(prefix=f"entry-{entry_id}")
    if form.validate_on_submit():
        try:
            services.chronology.confirm_recorded(
                current_user, entry_id, form.recorded_on.data, presentation.now()
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            services.differences.forget_changes()
            form.recorded_on.errors = [
                "Someone else changed this difference at the same moment: check it, then "
                "confirm again"
            ]
        else:
            flash(
                f"You confirmed that the outcome is recorded in {entry.agency}'s system.",
                "success",
            )
            return redirect(url_for("respond.show", reference=difference.reference) + "#records")
    return render_template(
        "respond/record.html", difference=difference, outcome=outcome, entry=entry, form=form
    )
