"""CSV cells that a spreadsheet opens safely."""

from escalate.queries.spreadsheets import safe_cell


def test_a_spreadsheet_never_runs_a_cell_as_a_formula():
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("@SUM(1)") == "'@SUM(1)"
    assert safe_cell("Children's Social Care") == "Children's Social Care"
