"""Serves the GOV.UK and MOJ Frontend assets that `make` copies from the npm packages, and lets
browsers keep every script, style sheet, font and image for a while.

Their stylesheets refer to fonts and images under /assets, so that is where they are served.
Escalate's own scripts and style sheets are linked with their version (``?v=``, from the file's
time of change): a browser keeps each for ``MAX_AGE`` without asking again, and fetches a new one
as soon as a deployment changes it. Pages themselves are never kept (``Cache-Control: no-store``).
"""

from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask

from escalate import ROOT

# How long a browser keeps a script, style sheet, font or image before asking for it again.
MAX_AGE = timedelta(hours=1)

bp = Blueprint(
    "assets",
    __name__,
    static_folder=str(ROOT / "static" / "govuk" / "assets"),
    static_url_path="/assets",
)


def version(folder: str, filename: str) -> str:
    """The file's version for its link: when it last changed (read each time it is linked, so a
    file changed under a running application is linked anew)."""
    try:
        return format(int((Path(folder) / filename).stat().st_mtime), "x")
    except OSError:
        return "0"  # no such file: its link answers 404 as before


def init_app(app: Flask) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = MAX_AGE

    @app.url_defaults
    def link_with_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values.setdefault("v", version(app.static_folder, values["filename"]))
