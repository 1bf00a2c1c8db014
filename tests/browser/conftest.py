"""The number of page states the accessibility tests checked, printed at the end of the run so
that it can be quoted. A test records its count as a property of its report, which reaches the
run's summary from any worker process (pytest-xdist)."""

CHECKED: dict[str, int] = {}  # database ("sqlite", "postgresql+psycopg") -> page states checked
PROPERTY = "accessibility_page_states"


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == PROPERTY:
            database, count = value
            CHECKED[database] = count


def pytest_terminal_summary(terminalreporter):
    for database, count in CHECKED.items():
        terminalreporter.write_line(
            f"accessibility: {count} page states checked with axe-core, at 320 px, "
            f"for one h1 and a title ({database})"
        )
