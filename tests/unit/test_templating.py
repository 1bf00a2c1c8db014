"""The GOV.UK components as pages render them, remembered for each set of parameters: the same
HTML as rendering them afresh, whatever they are given, and never another component's."""

from datetime import date

import jinja2
import pytest
from markupsafe import Markup

from escalate import templating

LOADER = jinja2.ChoiceLoader(
    [
        jinja2.DictLoader(
            {
                "unescaped.html": (
                    '{%- from "govuk_frontend_jinja/components/input/macro.html" '
                    "import govukInput -%}"
                    "{% autoescape false %}{{ govukInput(inputs[0]) | escape }}{% endautoescape %}"
                ),
                "page.html": (
                    '{%- from "govuk_frontend_jinja/components/input/macro.html" '
                    "import govukInput -%}"
                    '{%- from "govuk_frontend_jinja/components/select/macro.html" '
                    "import govukSelect -%}"
                    '{%- from "govuk_frontend_jinja/components/inset-text/macro.html" '
                    "import govukInsetText -%}"
                    "{%- for p in inputs %}{{ govukInput(p) }}{% endfor -%}"
                    "{%- for p in selects %}{{ govukSelect(p) }}{% endfor -%}"
                    "{%- for text in insets %}{% call govukInsetText({}) %}{{ text }}"
                    "{% endcall %}{% endfor -%}"
                ),
            }
        ),
        jinja2.PrefixLoader({"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}),
    ]
)


class Remembering(jinja2.Environment):
    template_class = templating.ComponentTemplate


def rendered(environment_class, page="page.html", **given) -> str:
    environment = environment_class(loader=LOADER, autoescape=True)
    given = {"inputs": [], "selects": [], "insets": [], **given}
    return environment.get_template(page).render(**given)


@pytest.fixture(autouse=True)
def nothing_remembered():
    templating.renderings.clear()
    yield
    templating.renderings.clear()


AGENCIES = [{"value": str(n), "text": f"Agency {n}"} for n in range(30)]
INPUTS = [
    {"id": "name", "name": "name", "label": {"text": "Name"}, "value": "Ann"},
    {"id": "name", "name": "name", "label": {"text": "Name"}, "value": "Bob"},
    {"id": "name", "name": "name", "label": {"text": "Name"}, "value": "<b>Bob</b>"},
    {"id": "name", "name": "name", "label": {"html": Markup("<b>Name</b>")}, "value": "Bob"},
    {"id": "name", "name": "name", "label": {"html": "<b>Name</b>"}, "value": "Bob"},
    {
        "id": "name",
        "name": "name",
        "label": {"text": "Name"},
        "value": "Bob",
        "errorMessage": {"text": "Enter a name"},
    },
    {"id": "age", "name": "age", "label": {"text": "Age"}, "value": 1},
    {"id": "age", "name": "age", "label": {"text": "Age"}, "value": True},
    {"id": "age", "name": "age", "label": {"text": "Age"}, "value": None},
    {"id": "day", "name": "day", "label": {"text": "Day"}, "value": date(2026, 11, 29)},
    {"id": "day", "name": "day", "label": {"text": "Day"}, "attributes": {"a": "1", "b": "2"}},
    {"id": "day", "name": "day", "label": {"text": "Day"}, "attributes": {"b": "2", "a": "1"}},
    # Equal to Python, printed differently: each its own rendering.
    {"id": "x", "name": "x", "label": {"text": "X"}, "value": ["a"]},
    {"id": "x", "name": "x", "label": {"text": "X"}, "value": ("a",)},
    {"id": "x", "name": "x", "label": {"text": "X"}, "attributes": {1: "y"}},
    {"id": "x", "name": "x", "label": {"text": "X"}, "attributes": {True: "y"}},
    {"id": "x", "name": "x", "label": {"text": "X"}, "attributes": {"<b>": "y"}},
    {"id": "x", "name": "x", "label": {"text": "X"}, "attributes": {Markup("<b>"): "y"}},
]
SELECTS = [
    {"id": "agency", "name": "agency", "label": {"text": "Agency"}, "items": AGENCIES},
    {
        "id": "agency",
        "name": "agency",
        "label": {"text": "Agency"},
        "items": AGENCIES,
        "value": "7",
    },
    {
        "id": "agency",
        "name": "agency",
        "label": {"text": "Agency"},
        "items": AGENCIES,
        "value": "8",
    },
]


def test_each_component_renders_as_it_would_afresh_whatever_it_is_given():
    given = {"inputs": INPUTS, "selects": SELECTS, "insets": ["One", "Two"]}
    afresh = rendered(jinja2.Environment, **given)
    first = rendered(Remembering, **given)
    again = rendered(Remembering, **given)  # now from what was remembered
    assert first == afresh
    assert again == afresh
    assert afresh.count('selected value="7"') + afresh.count('value="7" selected') == 1
    assert "&lt;b&gt;Bob&lt;/b&gt;" in afresh and "<b>Name</b>" in afresh
    assert "Enter a name" in afresh and "2026-11-29" in afresh


def test_a_component_rendered_where_escaping_is_off_is_text_to_escape_as_it_would_be_afresh():
    given = {"inputs": INPUTS[:1]}
    afresh = rendered(jinja2.Environment, "unescaped.html", **given)
    assert "&lt;input" in afresh
    rendered(Remembering, **given)  # the same component, remembered where escaping is on
    assert rendered(Remembering, "unescaped.html", **given) == afresh


def test_a_component_given_other_parameters_is_not_given_what_was_remembered():
    # One page asks for the list with agency 7 chosen; the next with agency 8 chosen, then none.
    for chosen in (SELECTS[1], SELECTS[2], SELECTS[0]):
        page = rendered(Remembering, selects=[chosen])
        assert page == rendered(jinja2.Environment, selects=[chosen])
    assert 'value="8" selected' in rendered(Remembering, selects=[SELECTS[2]])
    assert "selected" not in rendered(Remembering, selects=[SELECTS[0]])


def test_content_given_in_a_call_block_is_rendered_each_time():
    assert "First" in rendered(Remembering, insets=["First"])
    page = rendered(Remembering, insets=["Second"])
    assert "Second" in page and "First" not in page


def test_a_worker_keeps_a_bounded_number_of_renderings():
    many = [{**INPUTS[0], "value": f"Person {n}"} for n in range(templating.REMEMBERED + 50)]
    page = rendered(Remembering, inputs=many)
    assert page == rendered(jinja2.Environment, inputs=many)
    assert len(templating.renderings.kept) == templating.REMEMBERED
    # The least recently used went first: the last person's input is still kept, the first not.
    kept = [key for key in templating.renderings.kept if "Person 0'" in repr(key)]
    assert kept == []
