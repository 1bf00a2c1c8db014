"""Professionals' meetings (follow-through): arranging one on a difference, recording its
outcome and its minutes. Pages of the respond blueprint (``escalate.respond.views``)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import calendar, meetings, presentation, queries, services
from escalate.respond import meeting_forms as forms
from escalate.respond.views import bp
from escalate.workflow import FieldError, StaleDifference


def _back(reference: str):
    return redirect(url_for("respond.show", reference=reference) + "#meetings")


@bp.route("/differences/<reference>/arrange-meeting", methods=["GET", "POST"])
@login_required
def arrange_meeting(reference):
    difference = queries.differences.find_difference(current_user, reference)  # 404
    now = presentation.now()
    facts = queries.differences.facts(current_user, difference, now)
    actor = queries.differences.actor_for(current_user)
    meetings.check_arrange(actor, facts.situation)  # 403 or 409 for who may not
    form = forms.ArrangeMeetingForm(
        data={"version": difference.version} if request.method == "GET" else None
    )
    if len(meetings.arrangeable_kinds(actor, facts.situation)) < 2:
        del form.kind  # only the partnership, at the final stage, chooses mediation
    cal = queries.setup.working_calendar()
    form.meets_on.description = meetings.meeting_hint(
        calendar.to_local(now).date(), cal.nation, cal.closures
    )
    status = 200
    if form.validate_on_submit():
        try:
            services.meetings.arrange_meeting(
                current_user, difference.id, form.version.data, now=now, **form.values()
            )
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
        except StaleDifference:
            services.differences.forget_changes()
            difference = queries.differences.find_difference(current_user, reference)
            form.version.data = difference.version
            facts = queries.differences.facts(current_user, difference, now)
            status = 409
        else:
            flash("The meeting has been arranged and the people involved told.", "success")
            return _back(difference.reference)
    return render_template(
        "respond/meeting.html",
        title="Arrange a professionals' meeting",
        form=form,
        facts=facts,
        meeting=None,
        stale=status == 409,
    ), status


def _record_page(reference, meeting_id, form_class, service, title, done, still_open):
    difference = queries.differences.find_difference(current_user, reference)  # 404
    meeting = queries.meetings.find_meeting(difference, meeting_id)  # 404
    now = presentation.now()
    facts = queries.differences.facts(current_user, difference, now)
    meetings.check_record(
        queries.differences.actor_for(current_user), facts.situation, meeting.arranged_by_id
    )
    still_open(meeting, calendar.to_local(now).date())  # 409: recorded already, or too soon
    form = form_class(data={"version": difference.version} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            service(current_user, difference.id, meeting.id, now=now, **form.values())
        except FieldError as error:
            services.differences.forget_changes()
            presentation.attach_error(form, error)
            meeting = queries.meetings.find_meeting(difference, meeting_id)
        else:
            flash(done, "success")
            return _back(difference.reference)
    return render_template(
        "respond/meeting.html", title=title, form=form, facts=facts, meeting=meeting, stale=False
    )


@bp.route("/differences/<reference>/meetings/<int:meeting_id>/outcome", methods=["GET", "POST"])
@login_required
def meeting_outcome(reference, meeting_id):
    return _record_page(
        reference,
        meeting_id,
        forms.MeetingOutcomeForm,
        services.meetings.record_meeting_outcome,
        "Record the meeting's outcome",
        "The meeting's outcome has been recorded.",
        lambda meeting, today: meetings.check_outcome_open(
            meeting.meets_on, outcome_recorded=meeting.outcome_recorded_at is not None, today=today
        ),
    )


@bp.route("/differences/<reference>/meetings/<int:meeting_id>/minutes", methods=["GET", "POST"])
@login_required
def meeting_minutes(reference, meeting_id):
    return _record_page(
        reference,
        meeting_id,
        forms.MinutesForm,
        services.meetings.record_minutes,
        "Record the meeting's minutes",
        "The day the minutes were recorded has been saved.",
        lambda meeting, today: meetings.check_minutes_open(
            meeting.meets_on, minutes_recorded=meeting.minutes_recorded_on is not None, today=today
        ),
    )
