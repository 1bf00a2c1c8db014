"""Information governance: correcting a mistaken entry in a difference's record, and the access
log of who viewed what (for the partnership and auditors)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from escalate import presentation, queries, services
from escalate.records.forms import CorrectionForm
from escalate.workflow import FieldError, StaleDifference

bp = Blueprint("records", __name__)


@bp.route("/differences/<reference>/correct", methods=["GET", "POST"])
@login_required
def correct(reference):
    difference = queries.differences.find_difference(current_user, reference)  # NotFound: 404
    now = presentation.now()
    queries.differences.ensure_may_correct(current_user, difference, now)  # 403 or 409
    form = CorrectionForm(data={"version": difference.version} if request.method == "GET" else None)
    form.entry.choices = queries.records.correctable_entries(difference)
    status = 200
    if form.validate_on_submit():
        try:
            services.retention.correct_entry(
                current_user,
                difference.id,
                form.version.data,
                entry=form.entry.data,
                corrected_text=form.corrected_text.data,
                rationale=form.rationale.data,
                now=now,
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            # Someone acted first: the entries as they are now, with the form as typed.
            services.differences.forget_changes()
            difference = queries.differences.find_difference(current_user, reference)
            form.version.data = difference.version
            form.entry.choices = queries.records.correctable_entries(difference)
            status = 409
        else:
            flash("The entry was removed and the correction recorded in the history.", "success")
            return redirect(url_for("respond.show", reference=difference.reference) + "#history")
    return render_template(
        "records/correct.html", form=form, difference=difference, stale=status == 409
    ), status
