"""One page of a list: every paginated page counts and fetches the same way. Never commits."""

from flask_sqlalchemy.pagination import Pagination

from escalate.extensions import db


def page_of(statement, page: int, per_page: int, *, error_out: bool = False) -> Pagination:
    """One page of ``statement``'s rows, and how many there are in all (``db.paginate``: a count
    and a LIMIT/OFFSET query). The statement must be ordered down to a unique key, so that no
    row is shown twice or skipped from one page to the next.

    A page past the end shows the last page: lists shrink as people work, and a link made a
    moment ago should still show something. With ``error_out`` it is Not Found (404) instead.
    """
    pages = db.paginate(
        statement, page=page, per_page=per_page, max_per_page=None, error_out=error_out
    )
    if not pages.items and pages.total and page > pages.pages:
        pages = db.paginate(statement, page=pages.pages, per_page=per_page, max_per_page=None)
    return pages
