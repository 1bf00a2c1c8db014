"""The domain's errors: a request the rules refuse, each with a message written for the person
who made it. Raised by escalate.workflow and the modules beside it, turned into a form error or a
404/409 page in one place."""

from contextlib import contextmanager


class DomainError(Exception):
    """A request the rules refuse; the message is written for the person who made it."""


class InvalidRequest(DomainError):
    """The input does not describe something escalate can do (a bad value, unknown name…)."""


class NotFound(DomainError):
    """There is no such difference, or this user may not see it (the two are never told apart)."""


class NotAllowed(DomainError):
    """This user may see the difference but may not take this action on it."""


class WrongState(DomainError):
    """The difference is not in a state where this action makes sense (say, it is resolved)."""


class StaleDifference(DomainError):
    """Someone else acted on the difference since the form was shown."""

    def __init__(self, message: str = "This difference changed while you were working on it."):
        super().__init__(message)


class FieldError(DomainError):
    """A value someone gave is missing or wrong. ``field`` names the form field (or the command's
    option) it is about, so the refusal is shown beside it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class RationaleRequired(FieldError):
    """A required explanation is missing or is not meaningful (see ``require_rationale``)."""


class FieldErrors(FieldError):
    """Every value on one form that is missing or wrong, not only the first (``errors``, in the
    order they were found). As a FieldError it is the first of them."""

    def __init__(self, errors: list[FieldError]):
        super().__init__(errors[0].field, str(errors[0]))
        self.errors = list(errors)


class FieldProblems:
    """Collects the FieldErrors of several rules, so that a form shows them all at once::

        problems = FieldProblems()
        with problems.check():
            rule_one(...)
        with problems.check():
            rule_two(...)
        problems.raise_any()  # FieldErrors, if any rule refused
    """

    def __init__(self):
        self.errors: list[FieldError] = []

    @contextmanager
    def check(self):
        try:
            yield
        except FieldError as error:
            self.errors.extend(getattr(error, "errors", [error]))

    def about(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)

    def raise_any(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)
