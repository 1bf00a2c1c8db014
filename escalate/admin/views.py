"""Administration: agencies, accounts, stage contacts, the stage policy, the calendar, the
"act now" text, and the record of every change. Also the public page where an invited person
sets their password."""

from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import notify, presentation, queries, services
from escalate.admin import forms
from escalate.extensions import limiter
from escalate.models import Role
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
