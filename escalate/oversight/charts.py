"""What each chart shows, as plain data for static/oversight-charts.js to hand to Chart.js.

The page carries this in a data attribute; the same figures follow each chart as a table.
"""

from escalate import queries


def _bar(labels, series: dict[str, list[int]], *, horizontal=False, stacked=False) -> dict:
    return {
        "type": "bar",
        "labels": list(labels),
        "datasets": [{"label": label, "data": list(data)} for label, data in series.items()],
        "horizontal": horizontal,
        "stacked": stacked,
    }


def _common(d) -> dict:
    return {
        "closed_by_stage": _bar(
            [f"{s.level}. {s.name}" for s in d.closed_by_stage],
            {
                "Resolved": [s.resolved for s in d.closed_by_stage],
                "Withdrawn": [s.withdrawn for s in d.closed_by_stage],
            },
            stacked=True,
        ),
        "outcomes": _bar(
            [label for label, _ in d.outcomes], {"Differences": [n for _, n in d.outcomes]}
        ),
        "themes": _bar(
            [c.label for c, _ in d.themes],
            {"Differences raised": [n for _, n in d.themes]},
            horizontal=True,
        ),
    }


def for_dashboard(d: queries.figures.Dashboard) -> dict:
    return {
        "open_by_stage": _bar(
            [f"{s.level}. {s.name}" for s in d.open_by_stage],
            {
                "Waiting for a response, not overdue": [
                    s.awaiting_response - s.overdue for s in d.open_by_stage
                ],
                "Overdue": [s.overdue for s in d.open_by_stage],
                "Waiting for the raising side": [s.awaiting_raiser for s in d.open_by_stage],
            },
            stacked=True,
        ),
        "trend": _bar(
            [q.label for q in d.trend],
            {"Raised": [q.raised for q in d.trend], "Closed": [q.closed for q in d.trend]},
        ),
        **_common(d),
    }


def for_report(r: queries.figures.Report) -> dict:
    return _common(r)
