"""The GOV.UK Frontend components, rendered once for each set of parameters.

Each component's macro (``govukSelect``, ``govukDateInput``, ``govukPagination``…) is a pure
function of the parameters it is given: it is imported without the page's context and reads
nothing else. Rendering one through Jinja costs far more than looking it up, and pages render the
same components with the same parameters over and over (the unresolved list's filters, a date
input, the sign-in form, the pagination), so each worker remembers the HTML of the components it
rendered last, keyed by exactly what they were given. Whatever differs (a value, an error, a
``Markup`` rather than a string) is another key; a component given anything else than plain
data, or content from a ``{% call %}`` block, is rendered as usual.
"""

import os
import threading
from collections import OrderedDict
from pathlib import Path

import govuk_frontend_jinja
from flask.templating import Environment as FlaskEnvironment
from jinja2 import Template, pass_eval_context
from markupsafe import Markup

COMPONENTS = f"{Path(govuk_frontend_jinja.__file__).parent / 'templates' / 'components'}{os.sep}"
REMEMBERED = 512  # renderings each worker keeps, the least recently used going first
LARGEST = 16_384  # characters; a larger rendering is not kept


class _Unrememberable(Exception):
    """The parameters hold something that is not plain data."""


def _frozen(value):
    """``value`` as a key: equal exactly when the component would render the same."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is Markup:
        return (Markup, str(value))
    if kind is dict:
        return (dict, tuple((_frozen(key), _frozen(item)) for key, item in value.items()))
    if kind is list or kind is tuple:
        return (kind, tuple(_frozen(item) for item in value))
    if kind is bool or kind is int:
        return (kind, value)
    raise _Unrememberable


class _Renderings:
    """The renderings one worker keeps, least recently used first out."""

    def __init__(self, size: int):
        self.size = size
        self.kept: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
            return found

    def keep(self, key, html) -> None:
        if len(html) > LARGEST:
            return
        with self.lock:
            self.kept[key] = html
            self.kept.move_to_end(key)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.kept.clear()


renderings = _Renderings(REMEMBERED)


class _Remembered:
    """A component's macro, rendered once for each set of parameters."""

    def __init__(self, macro, name: str):
        self.macro = macro
        self.name = name

    @pass_eval_context  # as Jinja's own macros: they escape by the calling template's setting
    def __call__(self, eval_context, *args, **kwargs):
        if kwargs or len(args) != 1:  # content from a {% call %} block, or not one params dict
            return self.macro(eval_context, *args, **kwargs)
        try:
            key = (self.name, eval_context.autoescape, _frozen(args[0]))
        except _Unrememberable:
            return self.macro(eval_context, *args)
        html = renderings.get(key)
        if html is None:
            html = self.macro(eval_context, *args)
            renderings.keep(key, html)
        return html


class ComponentTemplate(Template):
    """A template whose GOV.UK components, once imported, are remembered."""

    def make_module(self, vars=None, shared=False, locals=None):
        module = super().make_module(vars, shared, locals)
        if self.filename and self.filename.startswith(COMPONENTS):
            for name, value in list(module.__dict__.items()):
                if name.startswith("govuk") and callable(value):
                    setattr(module, name, _Remembered(value, f"{self.filename}:{name}"))
        return module


class Environment(FlaskEnvironment):
    template_class = ComponentTemplate
