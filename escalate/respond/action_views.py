"""The pages of an agreed action: marking it done, and raising a follow-up difference from a
missed one. They join the respond blueprint (the difference's own pages)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import agreed_actions, presentation, queries, services
from escalate.respond import forms
from escalate.respond.views import bp
from escalate.workflow import FieldError, NotAllowed, StaleDifference, WrongState


@bp.route("/differences/<reference>/actions/<int:action_id>/done", methods=["GET", "POST"])
@login_required
def mark_action_done(reference, action_id):
    action = services.actions.find_action(current_user, action_id, reference)
    difference = action.difference
    facts = services.actions.facts_of(action, difference)
    form = forms.MarkDoneForm()
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            services.actions.mark_done(
                current_user, action.id, note=form.note.data, now=presentation.now()
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            services.differences.forget_changes()
            status = 409
        else:
            flash(
                f"Action {action.number} is marked as done. The person who raised the "
                "difference has been told.",
                "success",
            )
            return redirect(url_for("respond.show", reference=difference.reference))
    else:
        # The form is shown (again) only to someone who may mark it done.
        agreed_actions.check_mark_done(
            current_user.id,
            current_user.agency_id,
            facts,
            takes_part=queries.differences.takes_part(current_user, difference, presentation.now()),
        )
    return render_template(
        "respond/action_done.html", form=form, action=action, difference=difference
    ), status


@bp.route("/differences/<reference>/actions/<int:action_id>/follow-up", methods=["POST"])
@login_required
def raise_follow_up(reference, action_id):
    action = services.actions.find_action(current_user, action_id, reference)
    form = forms.FollowUpForm()
    if not form.validate_on_submit():
        raise NotAllowed("The form was not sent from escalate: go back and try again.")
    try:
        follow_up = services.actions.raise_follow_up(
            current_user, action.id, now=presentation.now()
        )
    except StaleDifference:
        services.differences.forget_changes()
        raise WrongState("Someone acted on this difference first: go back and try again.") from None
    flash(
        f"Follow-up difference {follow_up.reference} raised from action {action.number} of "
        f"{reference.strip().upper()}. {follow_up.receiving_agency.name} has been told.",
        "success",
    )
    return redirect(url_for("respond.show", reference=follow_up.reference))
