"""`make screenshots`: the main pages of the demo partnership, at desktop (1280 pixels) and phone
(375 pixels) width, saved as PNG files into docs/screenshots/ (shown in the README).

Builds its own demo partnership in a temporary SQLite database; touches nothing else.
"""

import base64
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from escalate import create_app, services
from escalate.demo import DEMO_PASSWORD
from escalate.extensions import db
from escalate.models import Base
from tests.browser import pages

WIDTHS = {"desktop": 1280, "phone": 375}
MAX_HEIGHT = 2400  # CSS pixels: long pages are cut here, which keeps the files small

GP = "emma.clarke@riverside.northshire.example"
SOCIAL_WORKER = "sam.okafor@csc.northshire.example"
CHAIR = "ruth.adeyemi@partnership.northshire.example"
ADMIN = "admin@partnership.northshire.example"

# (file name, who, how to get there): `where` is a path, or a function of the browser.
SHOTS = [
    ("sign-in", None, "/sign-in"),
    ("raise-a-difference", GP, "/differences/new/details?urgent=no"),
    ("your-differences", GP, "/differences/yours"),
    ("waiting-for-you", SOCIAL_WORKER, "/waiting"),
    ("a-difference", SOCIAL_WORKER, lambda b: b.links("main td a[href^='/differences/']")[0]),
    ("respond", SOCIAL_WORKER, lambda b: b.path + "/respond"),
    ("dashboard", CHAIR, "/oversight/"),
    ("dashboard-outcomes", CHAIR, "/oversight/dashboard/outcomes"),
    ("unresolved-differences", CHAIR, "/oversight/unresolved"),
    ("report", CHAIR, "/oversight/report"),
    ("people", ADMIN, "/admin/users"),
    ("accessibility-statement", None, "/accessibility"),
]


def demo_app(folder: Path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
            "HISTORY_CHECKPOINT_LOG": str(folder / "checkpoints.jsonl"),
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        Base.metadata.create_all(db.engine)
        services.setup.install_defaults()
        services.demo.seed_demo(DEMO_PASSWORD, datetime.now(UTC))
        db.session.remove()
    return app


def take(browser: pages.Browser, name: str, into: Path) -> list[Path]:
    saved = []
    for label, width in WIDTHS.items():
        with browser.width(width, 900):
            height = browser.driver.execute_script(
                "return document.documentElement.scrollHeight"
            )
            shot = browser.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": min(height, MAX_HEIGHT),
                        "scale": 1,
                    },
                },
            )
        path = into / f"{name}-{label}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        saved.append(path)
    return saved


def main(into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="escalate-screenshots-") as folder:
        folder = Path(folder)
        app = demo_app(folder)
        driver = pages.start_chromium(folder / "chromium")
        try:
            with pages.served(app) as base_url:
                browser = pages.Browser(driver, base_url, DEMO_PASSWORD)
                signed_in_as = "nobody"
                for name, who, where in SHOTS:
                    if who != signed_in_as:
                        if who is None:
                            browser.sign_out()
                        else:
                            browser.sign_in(who)
                        signed_in_as = who
                    browser.visit(where if isinstance(where, str) else where(browser))
                    for path in take(browser, name, into):
                        print(path)
        finally:
            driver.quit()
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
