"""Render an HTML page in headless Chromium, offline, and report what its scripts did.

Tests that use this skip when Chromium is not installed (Debian package ``chromium``); CI does not
need it. The page is copied beside a probe script that records uncaught errors and
``console.error`` calls into the DOM, so they can be read back from ``--dump-dom`` (Chromium's own
console log does not tell errors from ordinary messages).
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"

_PROBE = """<script>
window.__evtpErrors = [];
window.addEventListener('error', function (e) { window.__evtpErrors.push('error: ' + e.message); });
window.addEventListener('unhandledrejection', function (e) {
  window.__evtpErrors.push('rejection: ' + e.reason); });
(function () { var orig = console.error; console.error = function () {
  window.__evtpErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  return orig.apply(console, arguments); }; })();
window.addEventListener('load', function () { setTimeout(function () {
  var pre = document.createElement('pre'); pre.id = 'evtp-render-errors';
  pre.textContent = JSON.stringify(window.__evtpErrors);
  document.body.appendChild(pre); }, 200); });
</script>"""


@dataclass
class Rendered:
    """What headless Chromium made of a page: the DOM after its scripts ran, and their errors."""

    dom: str
    errors: list[str]


def require_chromium() -> None:
    """Skip the calling test when Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium); optional render test")


def external_urls(html: str) -> list[str]:
    """``src``/``href`` attributes that load something over the network (the page would then not
    open offline)."""
    return re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["']""", html)


def render(page: Path, tmp: Path, timeout_s: float = 120.0) -> Rendered:
    """Load ``page`` in headless Chromium with every host unresolvable (offline) and return the
    DOM after the scripts ran, plus the errors they raised."""
    require_chromium()
    probed = tmp / f"probed-{page.name}"
    html = page.read_text(encoding="utf-8")
    head = re.search(r"<head[^>]*>", html, flags=re.IGNORECASE)
    cut = head.end() if head else 0
    probed.write_text(html[:cut] + _PROBE + html[cut:], encoding="utf-8")
    for sibling in page.parent.iterdir():  # relative images and assets next to the page
        target = tmp / sibling.name
        if sibling != page and not target.exists():
            (shutil.copytree if sibling.is_dir() else shutil.copy)(sibling, target)
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp / 'chromium-profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    found = re.search(r'<pre id="evtp-render-errors">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    if found is None:
        raise AssertionError(f"the page did not finish loading in Chromium: {done.stderr[-2000:]}")
    return Rendered(dom=done.stdout, errors=json.loads(html_lib.unescape(found.group(1))))
