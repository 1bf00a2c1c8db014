"""escalate as `make bench` serves it (gunicorn bench.app:app): the application itself, plus
two reference routes that exist only here.

- /bench/ceiling: the base layout for a visitor, no query at all: the most any page can do
  on this machine with this framework.
- /bench/floor: the base layout for a signed-in person, with what every signed-in page needs
  (loading the person, and their unread count for the navigation): what every page pays first.
"""

from flask import render_template
from flask_login import login_required
from jinja2 import ChoiceLoader, DictLoader

from escalate import create_app

REFERENCE = '{% extends "base.html" %}{% block title %}Reference{% endblock %}'


def create_bench_app(config: dict | None = None):
    app = create_app(config)
    app.jinja_loader = ChoiceLoader(
        [app.jinja_loader, DictLoader({"bench/reference.html": REFERENCE})]
    )

    @app.route("/bench/ceiling")
    def ceiling():
        return render_template("bench/reference.html")

    @app.route("/bench/floor")
    @login_required
    def floor():
        return render_template("bench/reference.html")

    return app


app = create_bench_app()
