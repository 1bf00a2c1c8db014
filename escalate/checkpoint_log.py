"""The checkpoint log: signed checkpoints of the history, one JSON object a line, only ever
appended (HISTORY_CHECKPOINT_LOG; ``instance/history-checkpoints.jsonl`` by default).

It is kept outside the database on purpose: someone who can change the database cannot change
what the log already says. In production give the file the append-only attribute
(``chattr +a``) and keep it on storage the database's administrators cannot write to.
"""

import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

BLOCK = 65536


def _encode(line: dict) -> str:
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parse(text: str) -> dict | None:
    try:
        line = json.loads(text)
    except ValueError:
        return None
    return line if isinstance(line, dict) else None


def append(path: str, build: Callable[[dict | None], dict]) -> dict:
    """Append the line ``build(last_line)`` returns, holding the file's lock meanwhile so two
    writers (the worker and a command, say) cannot interleave; return the line."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            line = build(last(path))
            handle.write(_encode(line) + "\n")
            handle.flush()
            try:
                os.fsync(handle.fileno())  # on disk before anyone is told it is there
            except OSError as error:
                if error.errno != errno.EINVAL:  # a device that keeps nothing, like /dev/null
                    raise
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return line


def backwards(path: str) -> Iterator[dict | None]:
    """The log's lines from the last to the first (None for a line that is not JSON)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, after the generator is done)
    except FileNotFoundError:
        return
    with handle:
        handle.seek(0, os.SEEK_END)
        end, tail = handle.tell(), b""
        while end > 0:
            start = max(0, end - BLOCK)
            handle.seek(start)
            chunk = handle.read(end - start) + tail
            parts = chunk.split(b"\n")
            tail = parts[0] if start > 0 else b""
            for part in reversed(parts if start == 0 else parts[1:]):
                if part.strip():
                    yield _parse(part.decode("utf-8", "replace"))
            end = start


def last(path: str, kinds: tuple[str, ...] | None = None) -> dict | None:
    """The last line (of one of ``kinds``, if given) that can be read."""
    for line in backwards(path):
        if line is not None and (kinds is None or line.get("kind") in kinds):
            return line
    return None


def lines(path: str) -> list[dict | None]:
    """Every line, first to last."""
    return list(reversed(list(backwards(path))))
