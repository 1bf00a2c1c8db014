"""CSV lines a spreadsheet opens safely."""

import csv
import io
from collections.abc import Callable, Iterator

from escalate.extensions import db


def safe_cell(value) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_line(writer_buffer: io.StringIO, writer, cells) -> str:
    writer.writerow([safe_cell(c) for c in cells])
    line = writer_buffer.getvalue()
    writer_buffer.seek(0)
    writer_buffer.truncate()
    return line




def streamed_csv(header, statement, cells: Callable, batch_size: int = 100) -> Iterator[str]:
    """A list as CSV, streamed: the header, then ``cells(row)`` of each row the statement
    selects, fetched ``batch_size`` at a time (a server-side cursor on PostgreSQL), so memory
    does not grow with the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield csv_line(buffer, writer, header)
    result = db.session.scalars(statement, execution_options={"yield_per": batch_size})
    try:
        for chunk in result.partitions():
            for raw in chunk:
                writer.writerow([safe_cell(cell) for cell in cells(raw)])
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            yield text
    finally:
        result.close()
