"""Reading the CSV files `flask escalate import-agencies` and `import-users` take.

The columns are documented in README.md. Problems with the file itself (missing, not UTF-8,
wrong columns) are a DomainError with a sentence to act on; problems with rows are reported by
the import services, line by line.
"""

import csv
import io
from pathlib import Path

from escalate.administration import check_columns
from escalate.workflow import InvalidRequest


def read_rows(path: str, columns) -> list[tuple[int, dict]]:
    """The file's rows as (line number, {column: text}), blank lines left out."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except IsADirectoryError:
        raise InvalidRequest(f"{path} is a folder: give the path of a CSV file.") from None
    except FileNotFoundError:
        raise InvalidRequest(f"There is no file {path}.") from None
    except OSError as error:
        raise InvalidRequest(f"{path} cannot be read ({error.strerror}).") from None
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"{path} is not UTF-8 text. Save it from your spreadsheet as \"CSV UTF-8\" and try "
            "again."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = next(reader, None)
        check_columns(header, columns)
        names = [name.strip().lower() for name in header]
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(names):
                row = {"__too_many__": True}
            else:
                row = dict(zip(names, [v.strip() for v in values], strict=False))
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise InvalidRequest(
            f"{path} is not a CSV file escalate can read (line {reader.line_num}: {error})."
        ) from None
    if not rows:
        raise InvalidRequest(f"{path} has its column names but no rows to import.")
    return rows
