"""A real SMTP server for the delivery tests: aiosmtpd on a free local port, keeping every message.

It can refuse chosen addresses for good (550), and it can hold a message after receiving it,
before answering, so a test can stop the sender in the middle of a send.
"""

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float = 15, every: float = 0.02, what: str = "condition"):
    """Poll until condition() is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    def part(self, subtype: str) -> str:
        return self.message.get_body(preferencelist=(subtype,)).get_content()


class _Handler:
    def __init__(self, server: "MailServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.server.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = Received(
            envelope.mail_from,
            tuple(envelope.rcpt_tos),
            message_from_bytes(envelope.content, policy=policy.default),
        )
        with self.server.lock:
            self.server.messages.append(received)
            hold = self.server.hold_at == len(self.server.messages)
        if hold:
            self.server.holding.set()
            while not self.server.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"


class MailServer:
    """Start with start(); the port stays the same across stop() and start() again."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()
        self.hold_at: int | None = None  # hold the n-th message received, before answering
        self.holding = threading.Event()
        self.release = threading.Event()
        self._controller: Controller | None = None

    def start(self) -> "MailServer":
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.release.set()
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def message_id_counts(self) -> Counter:
        return Counter(r.message_id for r in self.received())

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received() if address in r.recipients]
