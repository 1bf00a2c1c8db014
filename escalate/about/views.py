"""Pages about the service itself, open to everyone: the accessibility statement."""

from flask import Blueprint, render_template

bp = Blueprint("about", __name__)


@bp.route("/accessibility")
def accessibility():
    return render_template("about/accessibility.html")
