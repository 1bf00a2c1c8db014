"""A real browser (Debian's Chromium, headless) driven the way a person uses escalate, and the
checks every page must pass in it: axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules, reflow at
320 CSS pixels, one h1 and a title that names the page, and focus that can always be seen.

Used by the accessibility tests and by `make screenshots`."""

import re
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pyotp
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Every WCAG success criterion axe-core tests, at levels A and AA, in 2.0, 2.1 and 2.2.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
REFLOW_WIDTH = 320  # CSS pixels: WCAG 2.2 1.4.10 Reflow
DESKTOP = (1280, 1000)
# How often a wait for the next page looks again (selenium's default, half a second, would wait
# that long after most pages had loaded).
POLL = 0.02


def replaced(element):
    """A wait's condition: the page ``element`` belonged to has been replaced by the next one.
    Asked in the middle of the change, Chromium may answer neither way ("Node with given id does
    not belong to the document"): that is asked again."""

    def gone(_driver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException:
            return False
        return False

    return gone


def start_chromium(profile: Path, width: int = DESKTOP[0], height: int = DESKTOP[1]):
    """Headless Chromium through chromedriver. Fails (never skips) when either is missing."""
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    assert chromium and chromedriver, (
        "Chromium and chromedriver are needed for the browser tests: "
        "apt-get install chromium chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        # Overlay scrollbars take no width: the page is measured at exactly the width asked for.
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_script_timeout(60)
    # axe-core is in every page from its start, as the browser's own script: the pages' Content
    # Security Policy does not apply to it, and it is sent to the browser once.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": AXE.read_text()})
    return driver


@contextmanager
def served(app):
    """The application on a free local port, in a thread, for as long as the block runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class _Quiet(WSGIRequestHandler):
    """No line on the terminal for every request and asset."""

    def log_request(self, *args, **kwargs):
        pass


# What overflows the page at a narrow width: the outermost elements that stick out, so that a
# failure says where to look.
OVERFLOWING = """
var width = document.documentElement.clientWidth, found = [];
function describe(e) {
  var classes = typeof e.className === 'string' && e.className.trim()
    ? '.' + e.className.trim().split(/\\s+/).join('.') : '';
  return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + classes;
}
document.querySelectorAll('body *').forEach(function (e) {
  var box = e.getBoundingClientRect();
  if (box.width > 1 && box.left < -1 && e.parentElement.getBoundingClientRect().left >= -1) {
    found.push(describe(e) + ' starts ' + Math.round(-box.left) + 'px left of the screen');
  }
  if (box.width === 0 || box.right <= width + 0.5) return;
  if (e.parentElement.getBoundingClientRect().right > width + 0.5) return;
  for (var a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    var overflow = getComputedStyle(a).overflowX;
    if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') return;
  }
  found.push(describe(e) + ' reaches ' + Math.round(box.right) + 'px');
});
if (!found.length) {  // text wider than its box: a long word, an email address
  document.querySelectorAll('main *').forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0 && !e.querySelector('*')) {
      found.push(describe(e) + ' holds text ' + e.scrollWidth + 'px wide');
    }
  });
}
return found.slice(0, 5);
"""

MEASURE_OVERFLOW = """
var done = arguments[arguments.length - 1];
function clipped(e) {
  for (var a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    var overflow = getComputedStyle(a).overflowX;
    if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') return true;
  }
  return false;
}
requestAnimationFrame(function () {
  requestAnimationFrame(function () {
    var right = document.documentElement.scrollWidth - window.innerWidth;
    if (right > 0) return done(right);
    // Content off the left edge cannot be scrolled to at all: count it too.
    var left = 0;
    document.querySelectorAll('body *').forEach(function (e) {
      var box = e.getBoundingClientRect();
      if (box.width > 1 && box.height > 1 && box.left < -1 && -box.left > left && !clipped(e)) {
        left = Math.round(-box.left);
      }
    });
    done(left);
  });
});
"""

# One finding is GOV.UK Frontend's by design and is not counted: `aria-expanded` on a radio or
# checkbox that reveals a question (the GOV.UK conditional reveal). ARIA does not list it for
# those roles; GOV.UK keeps it because screen readers announce it (alphagov/govuk-frontend#979,
# a documented known issue). Any other attribute on those inputs, or any other element, counts.
RUN_AXE = """
var done = arguments[arguments.length - 1];
function govukReveal(v, n) {
  if (v.id !== 'aria-allowed-attr') return false;
  var el = document.querySelector(n.target.join(' '));
  var reveal = '.govuk-radios__input[aria-controls], .govuk-checkboxes__input[aria-controls]';
  if (!el || !el.matches(reveal)) return false;
  var found = [];
  n.any.concat(n.all, n.none).forEach(function (c) {
    found = found.concat((c.data && c.data.values) || []);
  });
  return found.length > 0 && found.every(function (d) {
    return String(d).indexOf('aria-expanded=') === 0;
  });
}
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(function (result) {
    done(result.violations.map(function (v) {
      return {v: v, nodes: v.nodes.filter(function (n) { return !govukReveal(v, n); })};
    }).filter(function (f) { return f.nodes.length; }).map(function (f) {
      return f.v.id + ' (' + f.v.impact + '): ' + f.v.help + ' — ' + f.nodes.slice(0, 3).map(
        function (n) { return n.target.join(' '); }).join('; ');
    }));
  })
  .catch(function (error) { done(['axe-core failed: ' + error]); });
"""

# Where the keyboard's focus is, and whether a sighted person can see it (GOV.UK's focus
# states: a yellow outline, a yellow background with a black underline, or for radios and
# checkboxes a yellow ring drawn by the label).
FOCUS = """
var e = document.activeElement;
if (!e || e === document.body) return null;
function shows(style) {
  var outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2
    && style.outlineColor !== 'rgba(0, 0, 0, 0)' && style.outlineColor !== 'transparent';
  var shadow = style.boxShadow && style.boxShadow !== 'none';
  var yellow = style.backgroundColor === 'rgb(255, 221, 0)';
  return outline || shadow || yellow;
}
var visible = shows(getComputedStyle(e));
if (!visible && (e.type === 'radio' || e.type === 'checkbox') && e.labels.length) {
  visible = shows(getComputedStyle(e.labels[0], '::before'));
}
var box = e.getBoundingClientRect();
return {
  tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name') || '',
  value: e.value || '', type: e.type || '', checked: !!e.checked,
  text: (e.innerText || e.value || e.getAttribute('aria-label') || '').trim().slice(0, 80),
  href: e.getAttribute('href') || '', visible: visible, onScreen: box.width > 0 && box.height > 0
};
"""


class Browser:
    """One person at one browser: signs in, moves around, and checks each page as it stands."""

    def __init__(self, driver, base_url: str, password: str):
        self.driver, self.base, self.password = driver, base_url, password
        self.signed_in_as = None
        self.apps = {}  # email -> its authenticator app (pyotp.TOTP), once set up
        self.last_step = {}  # email -> the time step of the last code typed

    # --- moving around -----------------------------------------------------------------------

    def visit(self, path: str) -> None:
        self.driver.get(self.base + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def after(self, action) -> None:
        """Do something that loads a new page, and wait for it."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        action()
        WebDriverWait(self.driver, 15, poll_frequency=POLL).until(replaced(page))

    def sign_in(self, email: str, catalogue=None) -> None:
        """Sign in with the password and, for a role that needs it, two-factor sign-in (set up
        the first time, as a person with an authenticator app would). With a catalogue, each of
        those pages is checked on the way, and sent blank once."""
        if self.signed_in_as == email:
            return
        self.sign_out()
        self.visit("/sign-in")
        self.driver.find_element(By.ID, "email").send_keys(email)
        self.driver.find_element(By.ID, "password").send_keys(self.password)
        self.after(self.form_with("Sign in")[1].click)
        heading = self.driver.find_element(By.TAG_NAME, "h1").text
        if heading == "Set up two-factor sign-in":
            if catalogue is not None:
                catalogue.check("two-factor sign-in: set up")
                catalogue.errors_of("two-factor sign-in: set up", "Turn on two-factor sign-in")
            key = self.driver.find_element(By.ID, "setup-key").text.replace(" ", "")
            self.apps[email] = pyotp.TOTP(key)
            self.fill({"code": self.code(email)}, "Turn on two-factor sign-in")
            if catalogue is not None:
                catalogue.check("two-factor sign-in: recovery codes", "recovery codes")
            self.after(self.driver.find_element(By.LINK_TEXT, "Continue").click)
        elif heading == "Enter the code from your authenticator app":
            if catalogue is not None:
                catalogue.check("two-factor sign-in: the code")
                catalogue.errors_of("two-factor sign-in: the code", "Continue")
            self.fill({"code": self.code(email)}, "Continue")
        assert "Signed in as" in self.text(), self.text()
        self.signed_in_as = email

    def code(self, email: str) -> str:
        """The authenticator app's code now, or its next one if this one was typed already
        (each code works once)."""
        now = time.time()
        step = max(int(now) // 30, self.last_step.get(email, -1) + 1)
        if step > int(now) // 30 + 1:
            time.sleep(30 - now % 30)
        self.last_step[email] = step
        return self.apps[email].at(step * 30)

    def sign_out(self) -> None:
        # The browser may still be on another server's page (one browser serves a whole module,
        # and cookies do not care about ports): sign out here.
        if not self.driver.current_url.startswith(self.base):
            self.visit("/accessibility")
        buttons = self.driver.find_elements(By.CSS_SELECTOR, ".app-signed-in .app-link-button")
        if buttons:
            self.after(buttons[0].click)
        self.driver.delete_all_cookies()
        self.signed_in_as = None

    def links(self, css: str) -> list[str]:
        """The addresses of the links the selector finds, in page order, each once."""
        found = []
        for link in self.driver.find_elements(By.CSS_SELECTOR, css):
            href = link.get_attribute("href").removeprefix(self.base)
            if href not in found:
                found.append(href)
        return found

    def form_with(self, button_text: str | None = None):
        """The form in the page's main content whose submit button says button_text; without
        it, the page's own form (the one that posts back to the page, not a "Remove" button's)."""
        here = self.driver.current_url.split("?")[0]
        for form in self.driver.find_elements(By.CSS_SELECTOR, "main form"):
            buttons = form.find_elements(By.CSS_SELECTOR, "[type=submit]")
            if not buttons:
                continue
            said = [(b.text or b.get_attribute("value") or "").strip() for b in buttons]
            if button_text is None:
                posts_here = form.get_attribute("method").lower() == "post" and (
                    form.get_attribute("action").split("?")[0] == here
                )
                if posts_here:
                    return form, buttons[-1]
            elif button_text in said:
                return form, buttons[said.index(button_text)]
        raise NoSuchElementException(f"no form with a button {button_text!r} on {self.path}")

    def submit_blank(self, button_text: str | None = None) -> None:
        """Empty every field of a form and send it, as someone pressing the button too soon."""
        form, button = self.form_with(button_text)
        self.driver.execute_script(
            """
            var form = arguments[0];
            form.querySelectorAll('input, textarea').forEach(function (field) {
              if (['hidden', 'submit', 'button'].indexOf(field.type) >= 0) return;
              if (field.type === 'radio' || field.type === 'checkbox') field.checked = false;
              else field.value = '';
            });
            form.querySelectorAll('select').forEach(function (s) { s.selectedIndex = 0; });
            """,
            form,
        )
        self.after(button.click)

    def fill(self, values: dict, button_text: str) -> None:
        """Answer a form's fields by id (a radio or checkbox by id too) and send it."""
        form, button = self.form_with(button_text)
        for field_id, value in values.items():
            if "=" in field_id:  # a radio or checkbox, by name=value
                name, choice = field_id.split("=", 1)
                field = form.find_element(
                    By.CSS_SELECTOR, f"input[name='{name}'][value='{choice}']"
                )
            else:
                field = self.driver.find_element(By.ID, field_id)
            if field.get_attribute("type") in ("radio", "checkbox"):
                self.driver.execute_script("arguments[0].click()", field)
            elif field.tag_name == "select":
                self.driver.execute_script(
                    "var s = arguments[0], want = arguments[1]; s.value = Array.from(s.options)"
                    ".find(function (o) { return o.text === want || o.value === want; }).value;"
                    "s.dispatchEvent(new Event('change', {bubbles: true}));",
                    field,
                    value,
                )
            else:
                field.clear()
                field.send_keys(value)
        self.after(button.click)

    # --- the checks --------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Everything wrong with the page as it stands; an empty list when it passes."""
        found = []
        headings = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('h1'))"
            ".map(function (h) { return h.textContent.replace(/\\s+/g, ' ').trim(); })"
        )
        title = self.driver.title.strip()
        if len(headings) != 1:
            found.append(f"{len(headings)} h1 elements: {headings}")
        named = title.removeprefix("Error: ").rsplit(" – ", 1)[0].strip()
        if not named or " – " not in title:
            found.append(f"the title {title!r} does not name the page")
        elif headings and not _names_the_same(named, headings[0]):
            found.append(f"the title {title!r} does not name the page headed {headings[0]!r}")
        found += self.driver.execute_async_script(RUN_AXE, WCAG_TAGS)
        found += self.reflow_problems()
        return found

    def reflow_problems(self, width: int = REFLOW_WIDTH) -> list[str]:
        with self.width(width):
            overflow = 0
            waited_until = time.monotonic() + 3
            # Charts redraw for the new width a frame or two after it changes: measure after the
            # browser has drawn, and give a busy machine a moment.
            while time.monotonic() < waited_until:
                overflow = self.driver.execute_async_script(MEASURE_OVERFLOW)
                if overflow <= 0:
                    return []
                time.sleep(0.1)
            culprits = self.driver.execute_script(OVERFLOWING)
        return [f"does not fit {width}px wide, by {overflow}px: {culprits}"]

    @contextmanager
    def width(self, width: int, height: int = 900):
        """The page laid out for a screen `width` CSS pixels wide, as a phone would."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            yield
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # --- the keyboard ------------------------------------------------------------------------

    def focus(self) -> dict | None:
        return self.driver.execute_script(FOCUS)

    def press(self, *keys) -> None:
        self.driver.switch_to.active_element.send_keys(*keys)

    def tab_to(self, wanted, limit: int = 120, backwards: bool = False) -> dict:
        """Press Tab until the focus is on what `wanted(focus)` accepts; every stop on the way
        must show its focus."""
        for _ in range(limit):
            if backwards:
                self.press(Keys.SHIFT, Keys.TAB)
            else:
                self.press(Keys.TAB)
            focus = self.focus()
            if focus is None:
                continue
            assert focus["visible"], f"focus cannot be seen on {focus} at {self.path}"
            if wanted(focus):
                return focus
        raise AssertionError(f"Tab never reached what was wanted on {self.path}")

    def follow_by_keyboard(self, text: str) -> None:
        """Tab to the link or button that says `text` and press Enter."""
        self.tab_to(lambda f: f["text"] == text)
        self.after(lambda: self.press(Keys.ENTER))

    def type_into(self, field_id: str, text: str) -> None:
        self.tab_to(lambda f: f["id"] == field_id)
        self.press(text)


def _names_the_same(title: str, heading: str) -> bool:
    """A title names the page when it says what its h1 says (either may add detail)."""
    t, h = (re.sub(r"\W+", "", words.casefold()) for words in (title, heading))
    return bool(t and h) and (t in h or h in t)
