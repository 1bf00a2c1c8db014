"""Oversight and learning (product.md §7): the dashboard, the unresolved list and its CSV, the
periodic report and its impact, and learning notes, their list and updates. For the partnership
and auditors; auditors only read."""

from datetime import date

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
from markupsafe import Markup

from escalate import calendar, presentation, queries, services, wording
from escalate import learning as learning_rules
from escalate.calendar import to_local
from escalate.models import AccessKind, Category, LearningStatus
from escalate.oversight import charts
from escalate.oversight.forms import (
    ImpactForm,
    LearningNoteForm,
    LearningUpdateForm,
    ReportForm,
    parse_filters,
    parse_learning_filters,
    period_problem,
)
from escalate.workflow import OVERSIGHT_ROLES, FieldError, StaleDifference

bp = Blueprint("oversight", __name__, url_prefix="/oversight")

PER_PAGE = 25


@bp.before_request
@login_required
def _oversight_only():
    # Learning notes are about one difference: whether it exists is decided there (404 or 403).
    if request.endpoint == "oversight.learning_note":
        return None
    if current_user.role not in OVERSIGHT_ROLES:
        abort(403, "These pages are for the safeguarding partnership and auditors.")
    return None


@bp.route("/")
def dashboard():
    return _dashboard_page("open")


@bp.route("/dashboard/<section>")
def dashboard_section(section):
    # The overview lives at /oversight/ alone: one address for each section.
    if section not in wording.DASHBOARD_SECTIONS or section == "open":
        abort(404)
    return _dashboard_page(section)


# The sections that also read what changes without the figures (agreed actions, recorded
# shares): rendered on every view, where the others are rendered once with the figures.
LIVE_SECTIONS = frozenset({"agencies"})


def _dashboard_page(section: str):
    """One section of the dashboard: every section reads the same (cached) figures, so each
    page costs what the whole dashboard did, and no more. A section made of the figures alone
    is rendered once and kept with them; a live one (LIVE_SECTIONS) each time."""
    presentation.log_access(AccessKind.VIEWED_REPORT, "The dashboard")
    now = presentation.now()
    kept = queries.kept.cached("dashboard", lambda: _KeptDashboard(now), now)
    html = kept.sections.get(section)
    if html is None:
        html = _dashboard_section(section, kept, now)
        if section not in LIVE_SECTIONS:
            kept.sections[section] = html
    return render_template(
        "oversight/dashboard.html",
        section_html=html,
        section=section,
        sections=wording.DASHBOARD_SECTIONS,
    )


class _KeptDashboard:
    """The dashboard's figures as computed at ``at``, and the sections rendered from them."""

    def __init__(self, at):
        self.at = at
        self.figures = queries.figures.dashboard(at)
        self.sections: dict[str, Markup] = {}


def _dashboard_section(section: str, kept: _KeptDashboard, now) -> Markup:
    live = section in LIVE_SECTIONS
    html = render_template(
        f"oversight/dashboard/{section}.html",
        d=kept.figures,
        charts=charts.for_dashboard(kept.figures),
        now=kept.at,
        agreed_actions=queries.actions.dashboard(now, queries.setup.working_calendar())
        if live
        else None,
        recorded=queries.chronology.kept_shares(now) if live else None,
    )
    return Markup(html)  # noqa: S704 (what an autoescaping template rendered)


def _list_choices():
    agencies = queries.choices.all_agencies()
    stages = queries.figures.stage_names()
    return agencies, stages


def _parsed_filters():
    agencies, stages = _list_choices()
    parsed = parse_filters(request.args, {a.id for a in agencies}, set(stages))
    return parsed, agencies, stages


def _filter_args(parsed) -> dict:
    """The query string of the filters in force (bad values dropped), for links and the CSV."""
    f = parsed.filters
    args = {
        "agency": f.agency_id,
        "side": f.side if f.agency_id is not None and f.side != "either" else None,
        "stage": f.stage,
        "theme": f.theme.value if f.theme else None,
        "waiting": f.waiting,
        "min_age": f.min_age_days,
        "sort": f.sort if f.sort != "deadline" else None,
    }
    args = {key: value for key, value in args.items() if value is not None}
    only = [flag for flag in ("urgent", "overdue") if getattr(f, flag)]
    if only:
        args["only"] = only
    return args


@bp.route("/unresolved")
def unresolved():
    presentation.log_access(
        AccessKind.VIEWED_REPORT, presentation.with_filters("The unresolved list")
    )
    now = presentation.now()
    parsed, agencies, stages = _parsed_filters()
    pages = queries.unresolved.unresolved_page(
        parsed.filters, now, presentation.page_number(), PER_PAGE
    )
    args = _filter_args(parsed)
    return render_template(
        "oversight/unresolved.html",
        pages=pages,
        rows=pages.items,
        parsed=parsed,
        args=args,
        selected=_selected(parsed.filters, args, agencies, stages),
        error_list=[{"text": message, "href": f"#{name}"} for name, message in parsed.problems],
        agencies=agencies,
        stages=stages,
        themes=list(Category),
        sorts=queries.unresolved.SORTS,
        waiting=WAITING,
        csv_url=url_for("oversight.unresolved_csv", **args),
    )


def _selected(f, args: dict, agencies, stages) -> list[tuple[str, str]]:
    """The filters in force, each with the link that removes it (the MOJ filter's tags)."""
    agency_names = {a.id: a.name for a in agencies}
    shown = []

    def without(key, flag=None):
        rest = {k: v for k, v in args.items() if k != key}
        if flag is not None:
            rest["only"] = [o for o in args.get("only", []) if o != flag]
        if key == "agency":
            rest.pop("side", None)
        return url_for("oversight.unresolved", **rest)

    if f.agency_id is not None:
        how = {"raising": "raised by ", "receiving": "raised with "}.get(f.side, "")
        shown.append((f"Agency: {how}{agency_names[f.agency_id]}", without("agency")))
    if f.stage is not None:
        shown.append((f"Stage {f.stage}: {stages[f.stage]}", without("stage")))
    if f.theme is not None:
        shown.append((f"Theme: {f.theme.label}", without("theme")))
    if f.waiting is not None:
        shown.append((WAITING[f.waiting], without("waiting")))
    if f.urgent:
        shown.append(("Urgent only", without("only", "urgent")))
    if f.overdue:
        shown.append(("Overdue only", without("only", "overdue")))
    if f.min_age_days is not None:
        shown.append((f"Raised at least {f.min_age_days} days ago", without("min_age")))
    return shown


WAITING = {"response": "Waiting for a response", "raiser": "Waiting for the raising side"}


@bp.route("/unresolved.csv")
def unresolved_csv():
    presentation.log_access(
        AccessKind.DOWNLOADED_CSV, presentation.with_filters("The unresolved list as CSV")
    )
    now = presentation.now()
    parsed, _, _ = _parsed_filters()
    stamp = to_local(now).strftime("%Y-%m-%d")
    return Response(
        stream_with_context(queries.unresolved.unresolved_csv(parsed.filters, now)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="unresolved-differences-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _report_period():
    """The period asked for (the current quarter when nothing was asked), and the form."""
    form = ReportForm(request.args)
    if not any(key.startswith(("start", "end")) for key in request.args):
        period = calendar.quarter_of(to_local(presentation.now()).date())
        form = ReportForm(data={"start": period.first, "end": period.last})
        return period, form
    return form.period(), form


@bp.route("/report")
def report():
    period, form = _report_period()
    presentation.log_access(
        AccessKind.VIEWED_REPORT,
        f"The report for {period.label}" if period else "The report page (no period chosen)",
    )
    now = presentation.now()
    figures = (
        queries.kept.cached("report", lambda: _with_html(period, now), now, period)
        if period
        else None
    )
    return _report_page(form, period, figures)


def _with_html(period, now) -> tuple:
    """The period's figures, and their part of the page with the follow-through (the same for
    every reader) rendered once, to keep with them."""
    figures = queries.figures.report(period)
    notes, timeliness = queries.report_sections.kept_follow_through(period, now)
    html = render_template(
        "oversight/_report_figures.html",
        r=figures,
        charts=charts.for_report(figures),
        recorded=queries.chronology.kept_shares(now, period),
        notes=notes,
        timeliness=timeliness,
    )
    return figures, Markup(html)  # noqa: S704 (what an autoescaping template rendered)


def _report_page(form, period, kept, impact_form=None, status=200):
    """The report page: ``kept`` is the period's figures and their rendered part (_with_html);
    the impact, and the forms, are the only parts read and rendered for each view."""
    figures, figures_html = kept if kept else (None, "")
    csv_args = {"from": period.first.isoformat(), "to": period.last.isoformat()} if period else {}
    impact = queries.report_sections.impact(period) if period else None
    if impact_form is None and period and learning_rules.may_write(current_user.role):
        impact_form = ImpactForm(data={"text": impact.text if impact else ""})
    return render_template(
        "oversight/report.html",
        form=form,
        r=figures,
        figures_html=figures_html,
        impact=impact,
        impact_form=impact_form,
        csv_url=url_for("oversight.report_csv", **csv_args) if period else None,
        impact_url=url_for("oversight.report_impact", **csv_args) if period else None,
    ), status


def _period_from_args():
    try:
        first = date.fromisoformat(request.args.get("from", ""))
        last = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        abort(400, "Choose the report's dates on the report page, then download it again.")
    problem = period_problem(first, last)
    if problem is not None:
        abort(400, problem[1])
    return calendar.Period(first, last)


@bp.route("/report/impact", methods=["POST"])
def report_impact():
    learning_rules.check_may_write(current_user.role)
    period = _period_from_args()
    impact_form = ImpactForm()
    if impact_form.validate_on_submit():
        try:
            services.learning.save_report_impact(
                current_user, period, impact_form.text.data, presentation.now()
            )
        except FieldError as error:
            presentation.attach_error(impact_form, error)
        else:
            flash("The impact has been saved.", "success")
            start, end = period.first, period.last
            return redirect(
                url_for(
                    "oversight.report",
                    start=[start.day, start.month, start.year],
                    end=[end.day, end.month, end.year],
                )
                + "#impact"
            )
    form = ReportForm(data={"start": period.first, "end": period.last})
    return _report_page(form, period, _with_html(period, presentation.now()), impact_form)


@bp.route("/report.csv")
def report_csv():
    period = _period_from_args()
    first, last = period.first, period.last
    presentation.log_access(AccessKind.DOWNLOADED_CSV, f"The report for {period.label} as CSV")
    return Response(
        stream_with_context(
            queries.report_sections.report_csv(period, presentation.now())
        ),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="partnership-report-'
            f'{first.isoformat()}-to-{last.isoformat()}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _owner_choices(form) -> None:
    form.owner_agency.choices = [(0, "Select an agency")] + [
        (a.id, a.name) for a in queries.choices.all_agencies()
    ]
    form.owner.choices = [(0, "Nobody named")] + [
        (u.id, f"{u.name}, {u.agency.name}") for u in queries.learning.owners()
    ]


def _owner(form) -> services.learning.Owner:
    return services.learning.Owner(form.owner_agency.data, form.owner.data, form.due_on.data)


@bp.route("/differences/<reference>/learning-note", methods=["GET", "POST"])
@login_required
def learning_note(reference):
    difference = queries.differences.find_difference(current_user, reference)  # NotFound: 404
    now = presentation.now()
    queries.differences.ensure_may_add_learning_note(current_user, difference, now)  # 403 or 409
    form = LearningNoteForm()
    _owner_choices(form)
    if form.validate_on_submit():
        try:
            services.learning.add_learning_note(
                current_user,
                reference,
                form.text.data,
                now,
                recommendation=form.recommendation.data,
                owner=_owner(form),
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            services.differences.forget_changes()
            form.text.errors = [
                "Someone else added to this difference's history at the same moment: "
                "check the history, then add your note again"
            ]
        else:
            flash("The learning note has been added.", "success")
            return redirect(url_for("respond.show", reference=difference.reference) + "#learning")
    return render_template(
        "oversight/learning_note.html",
        form=form,
        difference=difference,
        is_partnership=learning_rules.may_write(current_user.role),
    )


@bp.route("/learning")
def learning():
    presentation.log_access(AccessKind.VIEWED_REPORT, presentation.with_filters("Learning"))
    now = presentation.now()
    filters, problems, args, agencies = _learning_filters()
    pages = queries.learning.learning_page(filters, now, presentation.page_number(), PER_PAGE)
    names = {a.id: a.name for a in agencies}

    def without(key, value=None):
        rest = {k: v for k, v in args.items() if k != key}
        return url_for("oversight.learning", **rest)

    selected = []
    if filters.status is not None:
        selected.append((f"Status: {filters.status.label}", without("status")))
    if filters.agency_id is not None:
        selected.append((f"Owner: {names[filters.agency_id]}", without("agency")))
    if filters.overdue:
        selected.append(("Overdue only", without("only")))
    return render_template(
        "oversight/learning.html",
        pages=pages,
        rows=pages.items,
        filters=filters,
        args=args,
        selected=selected,
        error_list=[{"text": message, "href": f"#{name}"} for name, message in problems],
        agencies=agencies,
        statuses=list(LearningStatus),
        may_update=learning_rules.may_write(current_user.role),
        csv_url=url_for("oversight.learning_csv", **args),
    )


def _learning_filters():
    agencies = queries.choices.all_agencies()
    filters, problems = parse_learning_filters(request.args, {a.id for a in agencies})
    args = {
        "status": filters.status.value if filters.status else None,
        "agency": filters.agency_id,
        "only": "overdue" if filters.overdue else None,
    }
    return filters, problems, {k: v for k, v in args.items() if v is not None}, agencies


@bp.route("/learning.csv")
def learning_csv():
    presentation.log_access(AccessKind.DOWNLOADED_CSV, presentation.with_filters("Learning as CSV"))
    now = presentation.now()
    filters, _, _, _ = _learning_filters()
    stamp = to_local(now).strftime("%Y-%m-%d")
    return Response(
        stream_with_context(queries.learning.learning_csv(filters, now)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="learning-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/learning/<int:note_id>", methods=["GET", "POST"])
def learning_update(note_id):
    learning_rules.check_may_write(current_user.role)
    note = queries.learning.note(note_id)
    if note is None:
        abort(404)
    if request.method == "GET":
        form = LearningUpdateForm(
            data={
                "status": note.status.value,
                "owner_agency": note.owner_agency_id or 0,
                "owner": note.owner_id or 0,
                "due_on": note.due_on,
            }
        )
    else:
        form = LearningUpdateForm()
    _owner_choices(form)
    if form.validate_on_submit():
        try:
            services.learning.update_learning_note(
                current_user,
                note.id,
                status=form.status.data,
                owner=_owner(form),
                reason=form.reason.data,
                now=presentation.now(),
            )
        except FieldError as error:
            presentation.attach_error(form, error)
        except StaleDifference:
            services.differences.forget_changes()
            form.status.errors = [
                "Someone else changed this note at the same moment: check it, then try again"
            ]
        else:
            flash("The learning note has been updated.", "success")
            return redirect(
                url_for("respond.show", reference=note.difference.reference) + "#learning"
            )
    return render_template("oversight/learning_update.html", form=form, note=note)
