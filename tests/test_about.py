"""The accessibility statement: public, linked from every page's footer, and saying what a
GOV.UK service's statement says."""

import re

import pytest


def test_the_statement_is_open_to_everyone_and_linked_from_every_footer(client, people, client_for):
    for browser, start in ((client, "/sign-in"), (client_for(people.gp), "/waiting")):
        footer = browser.get(start).get_data(as_text=True).split('<footer class="govuk-footer"')[1]
        assert 'href="/accessibility">Accessibility statement</a>' in footer
        response = browser.get("/accessibility")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        headings = re.findall(r'<h[23] class="govuk-heading-[ms]" id="([a-z-]+)">', html)
        for section in ("how-accessible", "feedback", "enforcement", "compliance", "testing"):
            assert section in headings, section
        assert "Equality Advisory and Support Service" in html
        assert "partially compliant" in html


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_the_statement_only_reads(client, method):
    assert getattr(client, method)("/accessibility").status_code == 405
