"""Raising a difference: the immediate-risk question first, the details, check, confirmation."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from wtforms.validators import InputRequired

from escalate import presentation, queries, services, wording, workflow
from escalate.fields import choice_id
from escalate.models import AgencyKind
from escalate.raising.forms import DifferenceForm, RiskForm
from escalate.workflow import FieldError

bp = Blueprint("raising", __name__)

MINE_PER_PAGE = 25  # each of the two lists on Your differences


def _require_raiser() -> None:
    if not workflow.may_raise(queries.differences.actor_for(current_user)):
        abort(403, "Differences are raised by professionals in member agencies.")


@bp.route("/differences/new", methods=["GET", "POST"])
@login_required
def start():
    _require_raiser()
    form = RiskForm()
    if form.validate_on_submit():
        if form.immediate_risk.data == "yes":
            return redirect(url_for("raising.act_now"))
        return redirect(url_for("raising.details", urgent="no"))
    return render_template(
        "raising/start.html", form=form, immediate_risk_hint=wording.IMMEDIATE_RISK_HINT
    )


@bp.route("/differences/new/act-now")
@login_required
def act_now():
    _require_raiser()
    settings = queries.setup.partnership_settings()
    return render_template(
        "raising/act_now.html",
        act_now_text=settings.act_now_text,
        numbers=wording.partnership_numbers(
            settings.mash_phone, settings.out_of_hours_phone, settings.police_phone
        ),
        ask_for_the_duty_manager=wording.ASK_FOR_THE_DUTY_MANAGER,
    )


def _difference_form(urgent: bool, answers: list | None = None) -> DifferenceForm:
    """The form for an urgent or other difference: from what was sent, or from a draft's
    ``answers`` (then without its own CSRF token: the page that sends it has one)."""
    if answers is None:
        form = DifferenceForm()
    else:
        form = DifferenceForm(formdata=MultiDict(answers), meta={"csrf": False})
    if urgent:
        form.start_stage.choices = queries.choices.urgent_start_choices()
        form.start_stage.validators = [
            InputRequired(message="Select the stage at which the difference starts")
        ]
        form.protective_action.validators = [
            InputRequired(message="Enter the protective action that has been taken"),
            *form.protective_action.validators[1:],
        ]
    else:
        del form.start_stage
    agencies = queries.choices.other_agencies(current_user)
    form.receiving_agency.choices = [(0, "Select an agency")] + [(a.id, a.name) for a in agencies]
    # Each person carries their agency, so that the page lists only the chosen agency's people.
    form.named_professional.choices = [(0, "I do not know", {})] + [
        (user.id, f"{user.name}, {user.job_title} – {user.agency.name}",
         {"data-agency": str(user.agency_id)})
        for user in queries.choices.professionals_outside(current_user)
    ]
    return form


def _new_difference(form: DifferenceForm, urgent: bool) -> services.differences.NewDifference:
    return services.differences.NewDifference(
        receiving_agency_id=form.receiving_agency.data or 0,
        named_professional_id=form.named_professional.data or None,
        child_reference=form.child_reference.data or "",
        child_initials=form.child_initials.data or "",
        child_date_of_birth=form.child_date_of_birth.data,
        category=form.category.data or "",
        decision=form.decision.data or "",
        reasons=form.reasons.data or "",
        desired_outcome=form.desired_outcome.data or "",
        discussed_informally=form.discussed_informally.data == "yes",
        informal_discussion=form.informal_discussion.data or "",
        immediate_risk=urgent,
        protective_action=form.protective_action.data or "",
        start_stage=choice_id(form.start_stage.data) if urgent and form.start_stage.data else None,
    )


def _checked(form: DifferenceForm, urgent: bool) -> bool:
    """Whether the answers pass the form's checks and every rule of raising; if not, every
    problem is on the form at once (the rules' on the fields the form found no fault with)."""
    valid = form.validate()
    try:
        services.differences.check_new_difference(
            current_user, _new_difference(form, urgent), presentation.now()
        )
    except FieldError as error:
        presentation.attach_error(form, error)
        return False
    return valid


def _chosen_labels(form: DifferenceForm) -> dict[str, str]:
    """The words behind each choice made, for the check-your-answers page."""

    def label(field, value):
        return next((choice[1] for choice in field.choices if choice[0] == value), "")

    return {
        "agency": label(form.receiving_agency, form.receiving_agency.data),
        "named": label(form.named_professional, form.named_professional.data or 0),
        "category": label(form.category, form.category.data),
        "start_stage": label(form.start_stage, form.start_stage.data) if "start_stage" in form
        else "",
    }


def _check_your_answers(form: DifferenceForm, urgent: bool) -> list[tuple[str, str, str]]:
    """Each answer as (what was asked, the answer, the field that changes it)."""
    chosen = _chosen_labels(form)
    discussed = form.discussed_informally.data == "yes"
    rows = []
    if urgent:
        rows += [
            ("Immediate risk", "Yes – the difference will be urgent", ""),
            ("Protective action taken", form.protective_action.data, "protective_action"),
            ("Starts at", chosen["start_stage"], "start_stage"),
        ]
    return rows + [
        ("Case reference", form.child_reference.data, "child_reference"),
        ("Child's initials", (form.child_initials.data or "").upper(), "child_initials"),
        (
            "Date of birth",
            wording.long_date(form.child_date_of_birth.data) or "Not given",
            "child_date_of_birth-day",
        ),
        ("Agency you disagree with", chosen["agency"], "receiving_agency"),
        ("Who made the decision", chosen["named"], "named_professional"),
        ("What it is about", chosen["category"], "category"),
        ("The decision or action", form.decision.data, "decision"),
        ("Why you disagree", form.reasons.data, "reasons"),
        ("Outcome you want", form.desired_outcome.data, "desired_outcome"),
        (
            "Discussed informally",
            f"Yes: {form.informal_discussion.data}" if discussed else "No",
            "discussed_informally",
        ),
    ]


def _answers(form: DifferenceForm) -> list[list[str]]:
    """What was sent for the form's own fields, to keep in the draft."""
    return [
        [name, value]
        for name, values in request.form.lists()
        if name in form and name not in ("csrf_token", "submit")
        for value in values
    ]


@bp.route("/differences/new/details", methods=["GET", "POST"])
@login_required
def details():
    _require_raiser()
    answer = request.args.get("urgent")
    if answer not in ("yes", "no"):
        # The immediate-risk question comes before anything else: nobody skips it.
        return redirect(url_for("raising.start"))
    urgent = answer == "yes"
    if request.method == "GET":
        # Coming back to change an answer: the page as it was left (errors not shown again).
        draft = queries.drafts.draft_of(current_user)
        answers = draft.answers if draft is not None and draft.urgent == urgent else None
        form = _difference_form(urgent, answers)
        return render_template("raising/details.html", form=form, urgent=urgent)
    form = _difference_form(urgent)
    if not _checked(form, urgent):
        return render_template("raising/details.html", form=form, urgent=urgent)
    # Post/redirect/get: the answers are kept, and "Check your answers" is a page of its own
    # that back and forward buttons (and a refresh) show again without sending anything twice.
    services.drafts.save_draft(current_user, urgent, _answers(form), presentation.now())
    return redirect(url_for("raising.check"))


@bp.route("/differences/new/check", methods=["GET", "POST"])
@login_required
def check():
    _require_raiser()
    draft = queries.drafts.draft_of(current_user)
    if draft is None:
        if request.method == "POST":
            # Sent twice (a double click, or back to this page after raising): raised once.
            flash("That difference has been raised already. It is listed below.", "success")
            return redirect(url_for("raising.mine"))
        return redirect(url_for("raising.start"))
    urgent = draft.urgent
    form = _difference_form(urgent, draft.answers)
    if not _checked(form, urgent):
        # Something changed since the answers were checked (say, a person left the agency).
        return render_template("raising/details.html", form=form, urgent=urgent)
    if request.method == "POST":
        try:
            difference = services.differences.raise_difference(
                current_user, _new_difference(form, urgent), presentation.now()
            )
        except FieldError as error:
            presentation.attach_error(form, error)
            return render_template("raising/details.html", form=form, urgent=urgent)
        return redirect(url_for("raising.raised", reference=difference.reference))
    return render_template(
        "raising/check.html",
        form=form,
        urgent=urgent,
        chosen=_chosen_labels(form),
        answers=_check_your_answers(form, urgent),
    )


@bp.route("/differences/<reference>/raised")
@login_required
def raised(reference):
    difference = queries.differences.find_difference(current_user, reference)
    return render_template(
        "raising/raised.html",
        difference=difference,
        facts=queries.differences.facts(current_user, difference, presentation.now()),
        # Urgent, and it is children's social care they disagree with: a manager, now.
        ask_for_the_duty_manager=wording.ASK_FOR_THE_DUTY_MANAGER
        if difference.urgent
        and difference.receiving_agency.kind == AgencyKind.CHILDRENS_SOCIAL_CARE
        else "",
    )


@bp.route("/differences/yours")
@login_required
def mine():
    now = presentation.now()
    cal = queries.setup.working_calendar()
    raised = queries.differences.own_page(
        current_user, presentation.page_number("raised_page"), MINE_PER_PAGE, raised=True
    )
    others = queries.differences.own_page(
        current_user, presentation.page_number("others_page"), MINE_PER_PAGE, raised=False
    )
    raised_rows, other_rows = _with_overdue_actions(
        queries.differences.rows(raised, now, cal),
        queries.differences.rows(others, now, cal),
        now,
        cal,
    )
    return render_template(
        "raising/mine.html",
        raised=raised,
        raised_by_you=raised_rows,
        others=others,
        involving_you=other_rows,
    )


def _with_overdue_actions(raised_rows, other_rows, now, cal):
    """Both lists' rows, marked where an agreed action is overdue: one statement for both."""
    marked = queries.actions.with_overdue_actions([*raised_rows, *other_rows], now, cal)
    return marked[: len(raised_rows)], marked[len(raised_rows) :]
