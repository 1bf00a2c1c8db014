"""Email delivery: the senders the outbox deliverer (and invitations) hand messages to.

Configured as Flask users expect: MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL,
MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER. With no MAIL_SERVER, messages are written as
.eml files to the instance folder's mail/ directory instead (development).
"""

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol


class DeliveryError(Exception):
    """The message could not be handed over; it may be tried again later."""


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand one message over for delivery, or raise DeliveryError."""


class SmtpSender:
    """Sends through an SMTP server, one connection per message."""

    def __init__(
        self, *, host, port, use_tls=False, use_ssl=False, username=None, password=None, timeout=30
    ):
        self.host, self.port = host, port
        self.use_tls, self.use_ssl = use_tls, use_ssl
        self.username, self.password = username, password
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        try:
            if self.use_ssl:
                connection = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with connection:
                if self.use_tls:
                    connection.starttls(context=ssl.create_default_context())
                if self.username:
                    connection.login(self.username, self.password or "")
                connection.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"{error.__class__.__name__}: {error}") from error


class FileSender:
    """Writes each message to a file: for development, where no mail server is configured."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = (message["Message-ID"] or "message").strip("<>").replace("/", "_")
        (self.directory / f"{name}.eml").write_bytes(bytes(message))


def sender_from_config(config, instance_path: str) -> Sender:
    """The sender the configuration asks for."""
    if config.get("MAIL_SERVER"):
        return SmtpSender(
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
        )
    return FileSender(Path(instance_path) / "mail")
