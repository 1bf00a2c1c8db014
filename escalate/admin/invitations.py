"""Sending a one-time set-password link by email (from the pages and from the command line)."""

from email.errors import MessageError

from flask import current_app

from escalate import notify


def link_for(token: str) -> str:
    """The absolute address of a set-password link (ESCALATE_BASE_URL, not the request's host)."""
    return f"{current_app.config['ESCALATE_BASE_URL']}/set-password/{token}"


def send(invited) -> bool:
    """Email the link to its owner. False when it could not be handed over for delivery."""
    config = current_app.config
    try:
        # An address or name stored before today's checks may not make a valid message
        # (a line break in a header): then the link is shown to pass on, like any failure.
        message = notify.invitation_email(
            to=invited.user.email,
            name=invited.user.name,
            link=link_for(invited.token),
            expires_at=invited.expires_at,
            sender=config["MAIL_DEFAULT_SENDER"],
            service_name=config["SERVICE_NAME"],
            partnership=config.get("PARTNERSHIP_NAME"),
        )
        notify.sender_from_config(config, current_app.instance_path).send(message)
    except (notify.DeliveryError, OSError, ValueError, MessageError):
        current_app.logger.warning("The invitation to %r could not be sent", invited.user.email)
        return False
    return True
