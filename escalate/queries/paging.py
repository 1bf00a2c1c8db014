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


class _Counted(Pagination):
    """A page whose total is known beforehand and whose rows a function fetches."""

    def _query_items(self) -> list:
        return self._query_args["fetch"](self._query_offset, self.per_page)

    def _query_count(self) -> int:
        return self._query_args["total"]


def page_of_counted(fetch, total: int, page: int, per_page: int) -> Pagination:
    """One page of a list of ``total`` rows, fetched by ``fetch(offset, limit)``: for lists
    whose order no single index gives, and which fetch a page in parts that each one does.
    A page past the end shows the last page, as ``page_of`` does."""
    last = max(1, -(-total // per_page))
    return _Counted(
        page=min(page, last),
        per_page=per_page,
        max_per_page=None,
        error_out=False,
        fetch=fetch,
        total=total,
    )
