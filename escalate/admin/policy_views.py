"""Administration of the stage policy, the working calendar and the "act now" text: pages of the
admin blueprint (``escalate.admin.views``)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from escalate import deadlines, presentation, queries, services, wording
from escalate.admin import forms
from escalate.admin.views import _refused, _saved, admin_only, bp
from escalate.models import LeadRule, ResponderRule
from escalate.workflow import FieldError, InvalidRequest

# --- The stage policy -------------------------------------------------------------------------


@bp.route("/admin/policy")
@admin_only
def policy():
    return _policy_page(_urgent_start_form(formdata=None))


def _policy_page(urgent_form, status=200, minutes_form=None):
    return (
        render_template(
            "admin/policy.html",
            stages=queries.setup.policy_stages(),
            removal_problem=queries.setup.removal_problem(),
            responder_labels=wording.RESPONDER_RULE_LABELS,
            lead_labels=wording.LEAD_RULE_LABELS,
            settings=queries.setup.partnership_settings(),
            urgent_form=urgent_form,
            minutes_form=minutes_form or _minutes_form(formdata=None),
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


def _minutes_form(**kwargs) -> forms.MinutesDaysForm:
    if kwargs.get("formdata", True) is None:
        days = queries.setup.partnership_settings().minutes_working_days
        kwargs["data"] = {"minutes_working_days": days}
    return forms.MinutesDaysForm(**kwargs)


@bp.route("/admin/policy/meeting-minutes", methods=["POST"])
@admin_only
def meeting_minutes_days():
    form = _minutes_form()
    if form.validate_on_submit():
        try:
            changed = services.meetings.change_minutes_working_days(
                current_user, form.minutes_working_days.data, presentation.now()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        else:
            _saved(changed, "The working days to record a meeting's minutes")
            return redirect(url_for("admin.policy"))
    return _policy_page(_urgent_start_form(formdata=None), 400, minutes_form=form)


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
