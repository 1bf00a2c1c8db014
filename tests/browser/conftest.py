"""The number of page states the accessibility tests checked, printed at the end of the run so
that it can be quoted."""

CHECKED: dict[str, int] = {}  # database ("sqlite", "postgresql+psycopg") -> page states checked


def pytest_terminal_summary(terminalreporter):
    for database, count in CHECKED.items():
        terminalreporter.write_line(
            f"accessibility: {count} page states checked with axe-core, at 320 px, "
            f"for one h1 and a title ({database})"
        )
