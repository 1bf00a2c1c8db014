"""Exports from escalate.audit that a spreadsheet opens."""

from escalate import audit


def test_a_spreadsheet_never_runs_a_cell_as_a_formula():
    assert audit._safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert audit._safe_cell("@SUM(1)") == "'@SUM(1)"
    assert audit._safe_cell("Children's Social Care") == "Children's Social Care"
