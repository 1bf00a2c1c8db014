"""Raising a difference: the immediate-risk question first, the details, check, confirmation."""

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.validators import InputRequired

from escalate import presentation, queries, services, wording, workflow
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


def _difference_form(urgent: bool) -> DifferenceForm:
    form = DifferenceForm()
    if urgent:
        form.start_stage.choices = queries.choices.urgent_start_choices()
        form.start_stage.validators = [
            InputRequired(message="Select the stage at which the difference starts")
        ]
    else:
        del form.start_stage
    agencies = queries.choices.other_agencies(current_user)
    form.receiving_agency.choices = [(0, "Select an agency")] + [(a.id, a.name) for a in agencies]
    form.named_professional.choices = [(0, "I do not know")] + [
        (user.id, f"{user.name}, {user.job_title} – {user.agency.name}")
        for user in queries.choices.professionals_outside(current_user)
    ]
    return form


def _new_difference(form: DifferenceForm, urgent: bool) -> services.differences.NewDifference:
    return services.differences.NewDifference(
        receiving_agency_id=form.receiving_agency.data or 0,
        named_professional_id=form.named_professional.data or None,
        child_reference=form.child_reference.data,
        child_initials=form.child_initials.data,
        child_date_of_birth=form.child_date_of_birth.data,
        category=form.category.data,
        decision=form.decision.data,
        reasons=form.reasons.data,
        desired_outcome=form.desired_outcome.data,
        discussed_informally=form.discussed_informally.data == "yes",
        informal_discussion=form.informal_discussion.data or "",
        immediate_risk=urgent,
        protective_action=form.protective_action.data or "",
        start_stage=int(form.start_stage.data) if urgent and form.start_stage.data else None,
    )


def _chosen_labels(form: DifferenceForm) -> dict[str, str]:
    """The words behind each choice made, for the check-your-answers page."""

    def label(field, value):
        return next((text for key, text in field.choices if key == value), "")

    return {
        "agency": label(form.receiving_agency, form.receiving_agency.data),
        "named": label(form.named_professional, form.named_professional.data or 0),
        "category": label(form.category, form.category.data),
        "start_stage": label(form.start_stage, form.start_stage.data) if "start_stage" in form
        else "",
    }


@bp.route("/differences/new/details", methods=["GET", "POST"])
@login_required
def details():
    _require_raiser()
    answer = request.args.get("urgent")
    if answer not in ("yes", "no"):
        # The immediate-risk question comes before anything else: nobody skips it.
        return redirect(url_for("raising.start"))
    urgent = answer == "yes"
    form = _difference_form(urgent)
    if request.method == "POST" and request.form.get("change"):
        form.validate()  # fill the form again from what was sent, errors hidden
        for field in form:
            field.errors = []
        return render_template("raising/details.html", form=form, urgent=urgent)
    if form.validate_on_submit():
        new = _new_difference(form, urgent)
        try:
            if request.form.get("confirm") == "yes":
                difference = services.differences.raise_difference(
                    current_user, new, presentation.now()
                )
                return redirect(url_for("raising.raised", reference=difference.reference))
            services.differences.check_new_difference(current_user, new, presentation.now())
        except FieldError as error:
            presentation.attach_error(form, error)
        else:
            return render_template(
                "raising/check.html", form=form, urgent=urgent, chosen=_chosen_labels(form)
            )
    return render_template("raising/details.html", form=form, urgent=urgent)


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
    raised = queries.paging.page_of(
        queries.differences.differences_raised_by(current_user),
        presentation.page_number("raised_page"),
        MINE_PER_PAGE,
    )
    others = queries.paging.page_of(
        queries.differences.differences_involving(current_user),
        presentation.page_number("others_page"),
        MINE_PER_PAGE,
    )
    return render_template(
        "raising/mine.html",
        raised=raised,
        raised_by_you=queries.differences.rows(raised, now, cal),
        others=others,
        involving_you=queries.differences.rows(others, now, cal),
    )
