"""Serves the GOV.UK and MOJ Frontend assets that `make` copies from the npm packages.

Their stylesheets refer to fonts and images under /assets, so that is where they are served.
"""

from flask import Blueprint

from escalate import ROOT

bp = Blueprint(
    "assets",
    __name__,
    static_folder=str(ROOT / "static" / "govuk" / "assets"),
    static_url_path="/assets",
)
