"""The demo partnership of escalate.demo and its differences, as written (no database)."""

from escalate import demo, demo_differences


def test_demo_scenarios_name_demo_people_and_happen_in_time_order():
    emails = {person.email for person in demo.USERS}
    agencies = {name for name, _ in demo.AGENCIES}
    keys = [(s.raiser, s.child_reference) for s in demo_differences.SCENARIOS]
    assert len(set(keys)) == len(keys)
    for scenario in demo_differences.SCENARIOS:
        assert scenario.raiser in emails and scenario.receiving in agencies, scenario
        assert scenario.named is None or scenario.named in emails, scenario
        assert all(step.by in emails for step in scenario.steps), scenario
        days_ago = [scenario.raised_days_ago, *(step.days_ago for step in scenario.steps)]
        assert days_ago == sorted(days_ago, reverse=True), scenario.child_reference
