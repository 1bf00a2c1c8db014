"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

import sys

from escalate import create_app
from escalate.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"escalate cannot start: {error}")
