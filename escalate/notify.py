"""Email delivery of the outbox: the message each notification becomes, and the senders.

Configured as Flask users expect: MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL,
MAIL_USERNAME, MAIL_PASSWORD, MAIL_DEFAULT_SENDER. With no MAIL_SERVER, messages are written as
.eml files to the instance folder's mail/ directory instead (development). Which notifications
are due, and what happens after a failure, is decided by ``services.delivery.deliver_due``.
"""

import re
import smtplib
import ssl
from calendar import month_name
from dataclasses import dataclass, field
from datetime import timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import jinja2
from flask import current_app, url_for

from escalate import validation
from escalate.messages import when

SMTP_TIMEOUT_SECONDS = 30
FIRST_RETRY_MINUTES = 1
LONGEST_RETRY_MINUTES = 60


class DeliveryError(Exception):
    """The message could not be handed over.

    ``permanent``: the mail server refused it for good (an unknown address, say), so trying
    again would not help.
    """

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand one message over for delivery, or raise DeliveryError."""


class SmtpSender:
    """Sends through an SMTP server, one connection per message."""

    def __init__(
        self,
        *,
        host,
        port,
        use_tls=False,
        use_ssl=False,
        username=None,
        password=None,
        timeout=SMTP_TIMEOUT_SECONDS,
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
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise DeliveryError(
                f"The mail server refused the address: {code} {_text(text)}",
                permanent=all(c >= 500 for c, _ in error.recipients.values()),
            ) from error
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                "The mail server did not accept MAIL_USERNAME and MAIL_PASSWORD: "
                f"{error.smtp_code} {_text(error.smtp_error)}"
            ) from error
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"The mail server answered {error.smtp_code} {_text(error.smtp_error)}",
                permanent=error.smtp_code >= 500,
            ) from error
        except TimeoutError as error:
            raise DeliveryError(
                f"The mail server {self.host}:{self.port} did not answer within "
                f"{self.timeout} seconds"
            ) from error
        except smtplib.SMTPException as error:
            raise DeliveryError(
                f"The mail server {self.host}:{self.port} did not take the message: "
                f"{error or error.__class__.__name__}"
            ) from error
        except OSError as error:
            detail = error.strerror or str(error) or error.__class__.__name__
            raise DeliveryError(
                f"Could not reach the mail server {self.host}:{self.port}: {detail}"
            ) from error


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class FileSender:
    """Writes each message to a file: for development, where no mail server is configured.

    The file is named after the Message-ID, so a message sent again replaces itself.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        name = (message["Message-ID"] or "message").strip("<>").replace("/", "_")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{name}.eml").write_bytes(bytes(message))
        except OSError as error:
            raise DeliveryError(f"Could not write {self.directory / name}.eml: {error}") from error


def sender_from_config(config, instance_path: str) -> Sender:
    """The sender the configuration asks for: EMAIL_SENDER if one is installed (tests), else SMTP
    to MAIL_SERVER, else files."""
    if config.get("EMAIL_SENDER") is not None:
        return config["EMAIL_SENDER"]
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


# --- The message -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailer:
    """Everything the deliverer needs to turn notifications into email and send it."""

    sender: Sender
    templates: jinja2.Environment
    base_url: str  # ESCALATE_BASE_URL: the Message-ID's domain (links come from url_settings)
    from_address: str  # MAIL_DEFAULT_SENDER
    service_name: str
    link_only: bool = False  # EMAIL_LINK_ONLY: no case content in any email at all
    # SECURE_EMAIL_DOMAINS: only addresses there are sent whole messages (secure_address).
    secure_domains: tuple[str, ...] = ()
    max_attempts: int = 8  # EMAIL_MAX_ATTEMPTS
    claim_seconds: int = 300  # EMAIL_CLAIM_SECONDS
    partnership: str | None = None  # PARTNERSHIP_NAME, for the email with a set-password link
    # SECRET_KEY: the set-password link is made again from it when the email is written.
    secret_key: str = field(default="", repr=False)


def email_templates(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The environment for templates/email/: the HTML part escapes everything it is given."""
    return jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def mailer_from_app(app) -> Mailer:
    """The mailer the application's configuration describes."""
    config = app.config
    return Mailer(
        sender=sender_from_config(config, app.instance_path),
        templates=email_templates(app.jinja_loader),
        base_url=config["ESCALATE_BASE_URL"],
        from_address=config["MAIL_DEFAULT_SENDER"],
        service_name=config["SERVICE_NAME"],
        link_only=config["EMAIL_LINK_ONLY"],
        secure_domains=tuple(config.get("SECURE_EMAIL_DOMAINS") or ()),
        max_attempts=config["EMAIL_MAX_ATTEMPTS"],
        claim_seconds=config["EMAIL_CLAIM_SECONDS"],
        partnership=config.get("PARTNERSHIP_NAME"),
        secret_key=config["SECRET_KEY"],
    )


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 1, 2, 4, 8… minutes, at most 60."""
    minutes = FIRST_RETRY_MINUTES * 2 ** min(max(attempts - 1, 0), 16)
    return timedelta(minutes=min(minutes, LONGEST_RETRY_MINUTES))


def message_id(notification_id: int, base_url: str) -> str:
    """The same Message-ID every time the notification is sent, so a resend after a crash is
    recognisably the same message."""
    host = urlsplit(base_url).hostname or "escalate.invalid"
    return f"<notification-{notification_id}@{host}>"


def external_url(endpoint: str, **values) -> str:
    """The address of a page as people reach the service, for an email or a link to pass on.

    ``url_for`` with SERVER_NAME, APPLICATION_ROOT and PREFERRED_URL_SCHEME taken from
    ESCALATE_BASE_URL (config.url_settings): the same address in the worker, which has no
    request, and in a request, whatever scheme a proxy in front of the service passed on.
    """
    return url_for(
        endpoint, _external=True, _scheme=current_app.config["PREFERRED_URL_SCHEME"], **values
    )


def set_password_link(token: str) -> str:
    return external_url("admin.set_password", token=token)


def recipient_address(name: str, email: str) -> Address:
    """The To address, or a permanent DeliveryError when the stored address cannot be used."""
    try:
        return Address(display_name=" ".join(name.split()), addr_spec=email)
    except (ValueError, IndexError, MessageError):
        raise DeliveryError(
            f"{email!r} is not an email address that can be sent to", permanent=True
        ) from None


def without_child_details(text: str, difference) -> str:
    """``text`` with the child's initials, case reference and date of birth taken out.

    The words of a notification name the child by the difference's reference only, but people
    write initials into their rationales. An email can travel beyond the partnership's secure
    systems, so there these give way to "the child"; the app shows the text as written.
    Single-letter initials are left alone: taking out every "A" would garble the text.
    """
    letters = [c for c in difference.child_initials or "" if c.isalpha()]
    if len(letters) >= 2:
        spaced = r"\.?\s?".join(re.escape(c) for c in letters)
        text = re.sub(rf"\b{spaced}\b", "the child", text)
    reference = (difference.child_reference or "").strip()
    if reference:
        text = re.sub(rf"(?<!\w){re.escape(reference)}(?!\w)", "[case reference]", text, flags=re.I)
    born = difference.child_date_of_birth
    if born is not None:
        day, month = rf"0?{born.day}(?:st|nd|rd|th)?", month_name[born.month]
        year = rf"(?:{born.year}|{born.year % 100:02d})"
        for pattern in (
            rf"\b0?{born.day}\s*[/.-]\s*0?{born.month}\s*[/.-]\s*{year}\b",
            rf"\b{born.year}-{born.month:02d}-{born.day:02d}\b",
            rf"\b{day}\s+(?:{month}|{month[:3]})\.?,?\s+{year}\b",
            rf"\b(?:{month}|{month[:3]})\.?\s+{day},?\s+{year}\b",
        ):
            text = re.sub(pattern, "[date of birth]", text, flags=re.I)
    return text


FULL = "full"
LINK_ONLY = "link_only"


def secure_address(email: str, domains) -> bool:
    """Whether an address is at one of ``domains`` or at a subdomain of one: ``nhs.net`` covers
    ``x@nhs.net`` and ``x@trust.nhs.net``, never ``x@notnhs.net`` or ``x@nhs.net.example``."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in domains)


def email_form(notification, mailer: Mailer) -> str:
    """FULL or LINK_ONLY: what the email for this notification carries. Whole messages go only
    to secure addresses, and to none when EMAIL_LINK_ONLY is set. A set-password email carries
    no case content either way."""
    if notification.invitation is not None:
        return FULL
    if mailer.link_only or not secure_address(notification.recipient.email, mailer.secure_domains):
        return LINK_ONLY
    return FULL


def compose(notification, mailer: Mailer) -> EmailMessage:
    """The email for one notification: plain text with an HTML alternative.

    About a difference, the text is the notification's own (what happened, the stage, the
    outcome and its rationale, the deadline), without the child's details
    (``without_child_details``); to an address outside the secure domains, or in link-only mode,
    nothing but the reference and the link leaves the service (``email_form``). With an
    invitation, it is the set-password link, made again here
    (``invitation_facts``). Needs an application context: links are built with ``url_for``.
    """
    if notification.invitation is not None:
        template, subject, context = "invitation", *invitation_facts(notification, mailer)
    else:
        template, subject, context = "notification", *update_facts(notification, mailer)
    recipient = notification.recipient
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = mailer.from_address
    message["To"] = recipient_address(recipient.name, recipient.email)
    message["Date"] = format_datetime(notification.created_at)
    message["Message-ID"] = message_id(notification.id, mailer.base_url)
    # Out-of-office replies should not come back to an unattended address.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    context |= {"name": recipient.name, "service_name": mailer.service_name}
    message.set_content(mailer.templates.get_template(f"email/{template}.txt").render(context))
    message.add_alternative(
        mailer.templates.get_template(f"email/{template}.html").render(context), subtype="html"
    )
    return message


def update_facts(notification, mailer: Mailer) -> tuple[str, dict]:
    """The subject and template facts of a notification about a difference, or of a notice
    with no difference (which links to itself in the inbox)."""
    difference = notification.difference
    body = notification.body
    if difference is not None:
        reference = difference.reference
        url = external_url("respond.show", reference=reference)
        body = without_child_details(body, difference)
        update = f"{reference}: there is an update, sign in to read it"
    else:
        reference = None
        url = external_url("inbox.show", notification_id=notification.id)
        update = f"{mailer.service_name}: there is a new message, sign in to read it"
    link_only = email_form(notification, mailer) == LINK_ONLY
    context = {
        "reference": reference,
        "url": url,
        "link_only": link_only,
        # Paragraphs, each a list of lines: the HTML template escapes every line itself.
        "paragraphs": [part.split("\n") for part in body.split("\n\n")],
    }
    if link_only:
        # Nothing of the body is handed to the templates: it cannot leak into them.
        context["paragraphs"] = []
    return (update if link_only else notification.subject), context


def invitation_facts(notification, mailer: Mailer) -> tuple[str, dict]:
    """The subject and template facts of the email with a one-time link to set a password.

    The link is not stored: it is made again from the invitation's nonce and SECRET_KEY, and
    checked against the hash kept of it. If SECRET_KEY has changed since, the link cannot be
    made again and the email fails for good (the administrator sends a new link).
    """
    invitation = notification.invitation
    token = validation.invitation_token(mailer.secret_key, invitation.nonce or "")
    if invitation.nonce is None or validation.token_hash(token) != invitation.token_hash:
        raise DeliveryError(
            "The link could not be made again, because SECRET_KEY has changed since it was "
            "created. Send a new link",
            permanent=True,
        )
    context = {
        "url": set_password_link(token),
        "expires": when(invitation.expires_at),
        "has_password": notification.recipient.password_hash is not None,
        "partnership": mailer.partnership or "your local safeguarding children partnership",
    }
    return f"{mailer.service_name}: set your password", context
