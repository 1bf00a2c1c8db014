"""Administration: agencies, accounts, stage contacts, the stage policy, the calendar, the
"act now" text, and the record of every change. Also the public page where an invited person
sets their password."""

from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import deadlines, notify, presentation, queries, services, wording
from escalate.admin import forms
from escalate.extensions import limiter
from escalate.models import LeadRule, ResponderRule, Role
from escalate.policy import two_factor_required
from escalate.workflow import CHANGE_LOG_READERS, FieldError, InvalidRequest

bp = Blueprint("admin", __name__)

AGENCIES_PER_PAGE = 50
USERS_PER_PAGE = 50
CHANGES_PER_PAGE = 50


def admin_only(view):
    """Administrators only; anyone else signed in is refused (403)."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role != Role.ADMIN:
            abort(403, "Only administrators can manage how the partnership is set up.")
        return view(*args, **kwargs)

    return wrapped


def _saved(changed: bool, what: str) -> None:
    if changed:
        flash(f"{what} saved.", "success")
    else:
        flash("Nothing was changed.", "info")


def _refused(error: InvalidRequest) -> None:
    flash(str(error), "error")


@bp.route("/admin")
@admin_only
def index():
    return render_template("admin/index.html", summary=queries.setup.setup_summary())


# --- Agencies ---------------------------------------------------------------------------------


@bp.route("/admin/agencies")
@admin_only
def agencies():
    pages = queries.paging.page_of(
        queries.setup.agencies_with_user_counts(), presentation.page_number(), AGENCIES_PER_PAGE
    )
    return render_template("admin/agencies.html", pages=pages, rows=pages.items)


@bp.route("/admin/agencies/new", methods=["GET", "POST"])
@admin_only
def add_agency():
    form = forms.AgencyForm()
    if form.validate_on_submit():
        try:
            agency = services.setup.add_agency(
                current_user,
                name=form.name.data,
                kind=form.kind.data,
                now=presentation.now(),
                passwords_allowed=form.sign_in.data != "single-sign-on",
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        else:
            flash(f"{agency.name} added. Now add its people and stage contacts.", "success")
            return redirect(url_for("admin.agency", agency_id=agency.id))
    return render_template("admin/agency_form.html", form=form, agency=None)


@bp.route("/admin/agencies/<int:agency_id>/change", methods=["GET", "POST"])
@admin_only
def change_agency(agency_id):
    agency = queries.setup.get_agency(agency_id)
    form = forms.AgencyForm(
        data={
            "name": agency.name,
            "kind": agency.kind.value,
            "sign_in": "password" if agency.passwords_allowed else "single-sign-on",
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            changed = services.setup.change_agency(
                current_user,
                agency.id,
                name=form.name.data,
                kind=form.kind.data,
                now=presentation.now(),
                passwords_allowed=form.sign_in.data != "single-sign-on",
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, "The agency")
            return redirect(url_for("admin.agency", agency_id=agency_id))
    return render_template("admin/agency_form.html", form=form, agency=agency)


def _contact_form(agency) -> forms.StageContactForm:
    form = forms.StageContactForm()
    form.level.choices = [
        (s.level, f"Stage {s.level}: {s.name}") for s in queries.setup.policy_stages()
    ]
    form.user.choices = [(0, "Select a person")] + [
        (u.id, f"{u.name}{', ' + u.job_title if u.job_title else ''} ({u.role.label})")
        for u in queries.setup.people_of(agency, active_only=True)
    ]
    return form


@bp.route("/admin/agencies/<int:agency_id>", methods=["GET", "POST"])
@admin_only
def agency(agency_id):
    agency = queries.setup.get_agency(agency_id)
    form = _contact_form(agency)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.setup.add_stage_contact(
                    current_user,
                    agency.id,
                    level=form.level.data,
                    user_id=form.user.data,
                    now=presentation.now(),
                )
            except FieldError as error:
                presentation.attach_error(form, error)
            else:
                flash("Stage contact added.", "success")
                return redirect(url_for("admin.agency", agency_id=agency.id))
        status = 400 if form.errors else 200
    return _agency_page(agency, form=form), status


def _agency_page(agency, *, form=None, lead_form=None) -> str:
    return render_template(
        "admin/agency.html",
        agency=agency,
        form=form or _contact_form(agency),
        lead_form=lead_form or _safeguarding_lead_form(agency),
        contacts=queries.setup.stage_contacts_of(agency),
        safeguarding_leads=queries.setup.safeguarding_leads_of(agency),
        stages={s.level: s for s in queries.setup.policy_stages()},
        people=queries.setup.people_of(agency),
        remove_form=forms.ConfirmForm(),
    )


@bp.route("/admin/agencies/<int:agency_id>/safeguarding-leads", methods=["GET", "POST"])
@admin_only
def add_safeguarding_lead(agency_id):
    """The agency's page, whose designated safeguarding lead form posts here."""
    agency = queries.setup.get_agency(agency_id)
    form = _safeguarding_lead_form(agency)
    if request.method == "GET":
        return _agency_page(agency, lead_form=form)
    if form.validate_on_submit():
        try:
            name = services.support.add_safeguarding_lead(
                current_user, agency.id, user_id=form.user.data, now=presentation.now()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            flash(f"{name} is now a designated safeguarding lead.", "success")
            return redirect(url_for("admin.agency", agency_id=agency.id))
    return _agency_page(agency, lead_form=form), 400


@bp.route(
    "/admin/agencies/<int:agency_id>/safeguarding-leads/<int:lead_id>/remove", methods=["POST"]
)
@admin_only
def remove_safeguarding_lead(agency_id, lead_id):
    if forms.ConfirmForm().validate_on_submit():
        name = services.support.remove_safeguarding_lead(
            current_user, agency_id, lead_id, presentation.now()
        )
        flash(f"{name} is no longer a designated safeguarding lead.", "success")
    return redirect(url_for("admin.agency", agency_id=agency_id))


def _safeguarding_lead_form(agency) -> forms.SafeguardingLeadForm:
    form = forms.SafeguardingLeadForm()
    form.user.choices = [(0, "Select a person")] + [
        (u.id, f"{u.name}{', ' + u.job_title if u.job_title else ''} ({u.role.label})")
        for u in queries.setup.people_of(agency, active_only=True)
    ]
    return form


@bp.route("/admin/agencies/<int:agency_id>/contacts/<int:contact_id>/remove", methods=["POST"])
@admin_only
def remove_contact(agency_id, contact_id):
    if forms.ConfirmForm().validate_on_submit():
        name = services.setup.remove_stage_contact(
            current_user, agency_id, contact_id, presentation.now()
        )
        flash(f"{name} is no longer a stage contact.", "success")
    return redirect(url_for("admin.agency", agency_id=agency_id))


# --- Accounts ---------------------------------------------------------------------------------

STATUS_FILTERS = {"active": True, "deactivated": False, "all": None}


@bp.route("/admin/users")
@admin_only
def users():
    agencies = queries.choices.all_agencies()
    agency_id = request.args.get("agency", type=int) or None
    role = request.args.get("role", "")
    status = request.args.get("status", "active")
    if role not in {r.value for r in Role}:
        role = ""
    if status not in STATUS_FILTERS:
        status = "active"
    pages = queries.paging.page_of(
        queries.setup.find_users(
            agency_id=agency_id, role=role or None, active=STATUS_FILTERS[status]
        ),
        presentation.page_number(),
        USERS_PER_PAGE,
    )
    # The filters in force, for the page links (the default "active" goes without saying).
    args = {"agency": agency_id, "role": role, "status": status if status != "active" else None}
    return render_template(
        "admin/users.html",
        pages=pages,
        rows=pages.items,
        args={key: value for key, value in args.items() if value},
        agencies=agencies,
        roles=list(Role),
        chosen={"agency": agency_id, "role": role, "status": status},
    )


def _account_form(user=None) -> forms.AccountForm:
    if user is not None and request.method == "GET":
        form = forms.AccountForm(
            data={
                "email": user.email,
                "name": user.name,
                "job_title": user.job_title,
                "role": user.role.value,
                "agency": user.agency_id or 0,
                "line_manager": user.line_manager_id or 0,
            }
        )
    else:
        form = forms.AccountForm()
    form.agency.choices = [(0, "No agency")] + [
        (a.id, a.name) for a in queries.choices.all_agencies()
    ]
    form.line_manager.choices = [(0, "No line manager")] + [
        (u.id, f"{u.name}{' – ' + u.agency.name if u.agency else ''}")
        for u in queries.choices.possible_line_managers(user)
    ]
    return form


def _link_page(invited, *, heading: str):
    """After creating a link: say it will be emailed, and show it this once, to pass on by hand
    if the email does not arrive (it is in this response only: escalate does not keep it)."""
    return render_template(
        "admin/link_created.html",
        heading=heading,
        user=invited.user,
        link=notify.set_password_link(invited.token),
        expires_at=invited.expires_at,
    )


@bp.route("/admin/users/invite", methods=["GET", "POST"])
@admin_only
def invite():
    form = _account_form()
    if form.validate_on_submit():
        try:
            invited = services.accounts.invite_user(
                current_user,
                now=presentation.now(),
                secret_key=current_app.config["SECRET_KEY"],
                **form.values(),
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        else:
            return _link_page(invited, heading=f"Account created for {invited.user.name}")
    return render_template("admin/account_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>")
@admin_only
def user(user_id):
    user = queries.setup.get_user(user_id)
    return render_template(
        "admin/user.html",
        user=user,
        form=forms.ConfirmForm(),
        is_self=user.id == current_user.id,
        link_email=queries.setup.latest_link_email(user),
        two_factor_required=two_factor_required(
            user.role, for_everyone=queries.setup.partnership_settings().two_factor_for_everyone
        ),
    )


@bp.route("/admin/users/<int:user_id>/change", methods=["GET", "POST"])
@admin_only
def change_user(user_id):
    user = queries.setup.get_user(user_id)
    form = _account_form(user)
    problem = None
    if form.validate_on_submit():
        try:
            changed = services.accounts.change_user(
                current_user, user.id, now=presentation.now(), **form.values()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        except InvalidRequest as error:
            services.differences.forget_changes()
            problem = str(error)
        else:
            _saved(changed, "The account")
            if current_user.role != Role.ADMIN:  # they gave up their own administrator role
                return redirect(url_for("auth.index"))
            return redirect(url_for("admin.user", user_id=user_id))
    user = queries.setup.get_user(user_id)
    return render_template("admin/account_form.html", form=form, user=user, problem=problem)


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@admin_only
def deactivate(user_id):
    user = queries.setup.get_user(user_id)
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            services.accounts.deactivate_user(current_user, user.id, presentation.now())
        except InvalidRequest as error:
            services.differences.forget_changes()
            _refused(error)
        else:
            flash(
                f"{user.name}'s account has been deactivated. They can no longer sign in.",
                "success",
            )
        return redirect(url_for("admin.user", user_id=user_id))
    return render_template(
        "admin/deactivate.html",
        user=user,
        form=form,
        waiting=queries.setup.open_responsibilities(user) > 0,
        is_self=user.id == current_user.id,
    )


@bp.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
@admin_only
def reactivate(user_id):
    if forms.ConfirmForm().validate_on_submit():
        try:
            user = services.accounts.reactivate_user(current_user, user_id, presentation.now())
        except InvalidRequest as error:
            _refused(error)
        else:
            flash(f"{user.name}'s account is active again.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/send-link", methods=["POST"])
@admin_only
def send_link(user_id):
    if not forms.ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.user", user_id=user_id))
    try:
        invited = services.accounts.send_new_link(
            current_user, user_id, presentation.now(), current_app.config["SECRET_KEY"]
        )
    except InvalidRequest as error:
        _refused(error)
        return redirect(url_for("admin.user", user_id=user_id))
    return _link_page(invited, heading=f"New link created for {invited.user.name}")


# --- The stage policy -------------------------------------------------------------------------


@bp.route("/admin/policy")
@admin_only
def policy():
    return _policy_page(_urgent_start_form(formdata=None))


def _policy_page(urgent_form, status=200):
    return (
        render_template(
            "admin/policy.html",
            stages=queries.setup.policy_stages(),
            removal_problem=queries.setup.removal_problem(),
            responder_labels=wording.RESPONDER_RULE_LABELS,
            lead_labels=wording.LEAD_RULE_LABELS,
            settings=queries.setup.partnership_settings(),
            urgent_form=urgent_form,
        ),
        status,
    )


def _urgent_start_form(**kwargs) -> forms.UrgentStartForm:
    settings = queries.setup.partnership_settings()
    if kwargs.get("formdata", True) is None:
        kwargs["data"] = {"highest_urgent_start": str(settings.highest_urgent_start)}
    form = forms.UrgentStartForm(**kwargs)
    stages = queries.setup.policy_stages()
    form.highest_urgent_start.choices = [
        (str(stage.level), f"Stage {stage.level}: {stage.name}") for stage in stages[:-1] or stages
    ]
    return form


@bp.route("/admin/policy/urgent-start", methods=["POST"])
@admin_only
def urgent_start():
    form = _urgent_start_form()
    if form.validate_on_submit():
        try:
            changed = services.setup.change_highest_urgent_start(
                current_user, int(form.highest_urgent_start.data), presentation.now()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, "The highest starting stage for urgent differences")
            return redirect(url_for("admin.policy"))
    return _policy_page(form, 400)


def _stage_form(stage=None) -> forms.StageForm:
    if stage is not None and request.method == "GET":
        return forms.StageForm(
            data={
                "name": stage.name,
                "responder_rule": stage.responder_rule.value,
                "lead_rule": stage.lead_rule.value,
                "working_days": stage.working_days,
                "urgent_working_hours": stage.urgent_working_hours,
                "reminder_days_before": stage.reminder_days_before,
                "auto_escalate": "yes" if stage.auto_escalate else "no",
                "raiser_reply_days": stage.raiser_reply_days,
                "proposal_reply_days": stage.proposal_reply_days,
                "max_extension_days": stage.max_extension_days,
            }
        )
    return forms.StageForm()


FINAL_STAGE_FIELDS = ("responder_rule", "lead_rule", "auto_escalate")


def _final_stage_form(form: forms.StageForm) -> None:
    """The final stage's people are fixed: the partnership decides, nobody leads, nothing
    escalates. Those questions are not asked."""
    for name in FINAL_STAGE_FIELDS:
        delattr(form, name)


def _final_values(form) -> dict:
    values = {
        "name": form.name.data,
        "working_days": form.working_days.data,
        "urgent_working_hours": form.urgent_working_hours.data,
        "reminder_days_before": form.reminder_days_before.data,
        "raiser_reply_days": form.raiser_reply_days.data,
        "proposal_reply_days": form.proposal_reply_days.data,
        "max_extension_days": form.max_extension_days.data,
    }
    return values | {
        "responder_rule": ResponderRule.PARTNERSHIP,
        "lead_rule": LeadRule.NONE,
        "auto_escalate": False,
    }


@bp.route("/admin/policy/stages/<int:level>", methods=["GET", "POST"])
@admin_only
def change_stage(level):
    stage = queries.setup.get_policy_stage(level)
    is_final = level == queries.setup.policy_stages()[-1].level
    form = _stage_form(stage)
    if is_final:
        _final_stage_form(form)
    if form.validate_on_submit():
        values = _final_values(form) if is_final else form.values()
        try:
            changed = services.setup.change_stage(current_user, level, values, presentation.now())
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, f"Stage {level}")
            return redirect(url_for("admin.policy"))
    return render_template(
        "admin/stage_form.html",
        form=form,
        stage=queries.setup.get_policy_stage(level),
        is_final=is_final,
        level=level,
    )


@bp.route("/admin/policy/stages/new", methods=["GET", "POST"])
@admin_only
def add_stage():
    form = forms.StageForm()
    _final_stage_form(form)
    stages = queries.setup.policy_stages()
    if form.validate_on_submit():
        try:
            stage = services.setup.add_stage(current_user, _final_values(form), presentation.now())
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            flash(
                f"Stage {stage.level} added as the final stage. Stage {stage.level - 1} is no "
                "longer the final stage: check who responds and leads at it, and whether it "
                "escalates automatically.",
                "success",
            )
            return redirect(url_for("admin.policy"))
    return render_template(
        "admin/stage_form.html",
        form=form,
        stage=None,
        is_final=True,
        level=stages[-1].level + 1 if stages else 1,
    )


@bp.route("/admin/policy/stages/remove-last", methods=["GET", "POST"])
@admin_only
def remove_stage():
    form = forms.ConfirmForm()
    if form.validate_on_submit():
        try:
            stage = services.setup.remove_last_stage(current_user, presentation.now())
        except InvalidRequest as error:
            services.differences.forget_changes()
            _refused(error)
        else:
            flash(f"Stage {stage.level} ({stage.name}) removed.", "success")
        return redirect(url_for("admin.policy"))
    stages = queries.setup.policy_stages()
    return render_template(
        "admin/remove_stage.html",
        form=form,
        stage=stages[-1],
        stages=stages,
        problem=queries.setup.removal_problem(),
    )


@bp.route("/admin/policy/recompute", methods=["GET", "POST"])
@admin_only
def recompute():
    form = forms.ConfirmForm()
    now = presentation.now()
    # Administrators see no difference (product.md §1): whether deadlines would move, not which
    # or how many.
    if form.validate_on_submit():
        if services.setup.recompute_deadlines(current_user, now):
            flash(
                "Open deadlines recomputed. Each difference whose deadline moved has the change "
                "in its history, and its raiser and responders have been told.",
                "success",
            )
        else:
            flash("No open deadline needed to move.", "info")
        return redirect(url_for("admin.policy"))
    moves = queries.setup.deadline_moves(now)
    return render_template(
        "admin/recompute.html",
        form=form,
        would_move=bool(moves),
        some_overdue=any(deadlines.is_past(m.new, now) for m in moves),
    )


# --- The calendar and the "act now" text ------------------------------------------------------


@bp.route("/admin/calendar", methods=["GET", "POST"])
@admin_only
def calendar():
    settings = queries.setup.partnership_settings()
    form = forms.CalendarForm(data=_calendar_data(settings) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = services.setup.change_calendar(
                current_user,
                nation=form.nation.data,
                start_of_working_day=form.start_of_working_day.data,
                end_of_working_day=form.end_of_working_day.data,
                now=presentation.now(),
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, "The calendar")
            return redirect(url_for("admin.calendar"))
    return _calendar_page(form, forms.ClosureDayForm(formdata=None))


def _calendar_data(settings) -> dict:
    return {
        "nation": settings.nation.value,
        "start_of_working_day": settings.start_of_working_day,
        "end_of_working_day": settings.end_of_working_day,
    }


def _calendar_page(form, closure_form):
    return render_template(
        "admin/calendar.html",
        form=form,
        closure_form=closure_form,
        closures=queries.setup.closure_days(),
        remove_form=forms.ConfirmForm(),
        errors_of=(form.errors or closure_form.errors),
    )


@bp.route("/admin/calendar/closure-days", methods=["POST"])
@admin_only
def add_closure():
    closure_form = forms.ClosureDayForm()
    if closure_form.validate_on_submit():
        try:
            closure = services.setup.add_closure_day(
                current_user,
                day=closure_form.day.data,
                description=closure_form.description.data,
                now=presentation.now(),
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(closure_form, error)
        else:
            flash(
                f"{wording.long_date(closure.day)} added as a closure day. Deadlines already "
                "set keep their dates unless you recompute them.",
                "success",
            )
            return redirect(url_for("admin.calendar"))
    settings = queries.setup.partnership_settings()
    form = forms.CalendarForm(formdata=None, data=_calendar_data(settings))
    return _calendar_page(form, closure_form), 400


@bp.route("/admin/calendar/closure-days/<int:closure_id>/remove", methods=["POST"])
@admin_only
def remove_closure(closure_id):
    if forms.ConfirmForm().validate_on_submit():
        closure = services.setup.remove_closure_day(current_user, closure_id, presentation.now())
        flash(f"{wording.long_date(closure.day)} is no longer a closure day.", "success")
    return redirect(url_for("admin.calendar"))


@bp.route("/admin/act-now", methods=["GET", "POST"])
@admin_only
def act_now():
    settings = queries.setup.partnership_settings()
    form = forms.ActNowForm(
        data={
            "text": settings.act_now_text,
            "mash_phone": settings.mash_phone,
            "out_of_hours_phone": settings.out_of_hours_phone,
            "police_phone": settings.police_phone,
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        try:
            changed = services.setup.change_act_now_text(
                current_user, form.text.data, presentation.now(), phones=form.phones()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, "The immediate-risk text")
            return redirect(url_for("admin.index"))
    return render_template("admin/act_now.html", form=form)


# --- The record of changes --------------------------------------------------------------------


@bp.route("/changes")
@login_required
def changes():
    if current_user.role not in CHANGE_LOG_READERS:
        abort(403, "The record of changes is for the partnership, auditors and administrators.")
    # The record only grows, so a page past its end was never there: Not Found.
    pages = queries.paging.page_of(
        queries.setup.admin_changes(),
        presentation.page_number(),
        CHANGES_PER_PAGE,
        error_out=True,
    )
    rows = [queries.setup.change_as_seen_by(change, current_user.role) for change in pages.items]
    return render_template("admin/changes.html", pages=pages, rows=rows)


# --- Setting a password with a one-time link (public) -----------------------------------------

LINK_PROBLEMS = {
    "unknown": ("This link is not valid", "Check you copied the whole link from the email."),
    "used": (
        "This link has already been used",
        "Each link works once. If you have set your "
        "password, sign in. If you have forgotten it, ask your administrator for a new link.",
    ),
    "expired": (
        "This link has expired",
        "A link works for 7 days, and stops working when a "
        "newer one is sent. Ask your safeguarding partnership's administrator to send "
        "you a new one.",
    ),
    "inactive": (
        "This account is not active",
        "Ask your safeguarding partnership's administrator if you think you should have access.",
    ),
}


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute")
def set_password(token):
    if current_user.is_authenticated:
        return render_template(
            "admin/link_problem.html",
            title="Sign out to use this link",
            advice=f"You are signed in as {current_user.name}. A link to set a password is for "
            "the person it was sent to: sign out, then open the link again.",
        ), 409
    now = presentation.now()
    invitation, problem = queries.setup.invitation_for_token(token, now)
    if problem is not None:
        title, advice = LINK_PROBLEMS[problem]
        status = 404 if problem == "unknown" else 410
        return render_template("admin/link_problem.html", title=title, advice=advice), status
    form = forms.SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.accounts.set_password_from_invitation(
                token, form.password.data, form.confirmation.data, now
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except InvalidRequest:  # used or expired between showing the form and sending it
            return redirect(url_for("admin.set_password", token=token))
        else:
            flash("Your password has been set. You can now sign in.", "success")
            return redirect(url_for("auth.sign_in"))
    return render_template("admin/set_password.html", form=form, user=invitation.user)
