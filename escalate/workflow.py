"""The rules of escalate, free of Flask and the database.

Domain errors are raised here and turned into form errors or error pages in one place
(the blueprints' error handlers).
"""


class DomainError(Exception):
    """A request the rules refuse; the message is written for the person who made it."""


class InvalidRequest(DomainError):
    """The input does not describe something escalate can do (a bad value, unknown name…)."""
