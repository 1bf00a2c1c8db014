"""CSV lines a spreadsheet opens safely."""

import io


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


