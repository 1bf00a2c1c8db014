"""Information governance: correcting a mistaken entry in a difference's record, and the access
log of who viewed what (for the partnership and auditors)."""

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from escalate import presentation, queries, services
from escalate.calendar import to_local
from escalate.models import AccessKind
from escalate.records.forms import AccessLogForm, CorrectionForm
from escalate.workflow import OVERSIGHT_ROLES, FieldError, StaleDifference

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


ACCESS_LOG_PER_PAGE = 50


def _oversight_only() -> None:
    if current_user.role not in OVERSIGHT_ROLES:
        abort(403, "The access log is for the safeguarding partnership and auditors.")


@bp.route("/access-log")
@login_required
def access_log():
    _oversight_only()
    form = AccessLogForm(request.args)
    filters = form.filters()
    presentation.log_access(AccessKind.VIEWED_REPORT, presentation.with_filters("The access log"))
    args = form.args()
    pages = queries.access.search(filters, presentation.page_number(), ACCESS_LOG_PER_PAGE)
    return render_template(
        "records/access_log.html",
        form=form,
        pages=pages,
        args=args,
        csv_url=url_for("records.access_log_csv", **args),
        searched=any(args.values()),
    )


@bp.route("/access-log.csv")
@login_required
def access_log_csv():
    _oversight_only()
    filters = AccessLogForm(request.args).filters()
    presentation.log_access(
        AccessKind.DOWNLOADED_CSV, presentation.with_filters("The access log as CSV")
    )
    stamp = to_local(presentation.now()).strftime("%Y-%m-%d")
    return Response(
        stream_with_context(queries.access.search_csv(filters)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="access-log-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )
