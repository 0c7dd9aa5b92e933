"""The HTML sign-off report in a real browser: headless Chromium loads it offline, logs no console
message, shows the charts, and runs nothing from a hostile slice value.

Install the browser with `apt-get install -y chromium` (Debian).  The screenshot is kept at
test-artifacts/report.png (gitignored) for a person to look at.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from rai_policy.report.renderers import renderer
from tests.conftest import REPO
from tests.report_samples import synthetic_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--hide-scrollbars", "--enable-logging=stderr", "--v=0")
# What Chromium logs for page console output, uncaught exceptions and CSP violations (a script that tried to run).
CONSOLE = re.compile(r"CONSOLE|Uncaught|Content Security Policy|Refused to")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install -y chromium)")]


def _chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture(scope="module")
def compas_html(compas_report, tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("html") / "compas.html"
    page.write_text(renderer("html")(compas_report), encoding="utf-8")
    return page


def test_compas_report_renders_offline_with_charts(compas_html, tmp_path):
    dom = _chromium(tmp_path, compas_html, "--dump-dom")
    assert not _console(dom.stderr), _console(dom.stderr)
    assert dom.stdout.count("<svg") == 3
    assert "false positive rate (decision threshold 0.45)" in dom.stdout
    assert "allowed: up to 0.05 above Caucasian" in dom.stdout
    assert "<script" not in dom.stdout


def test_compas_report_screenshot(compas_html, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    proc = _chromium(tmp_path, compas_html, "--window-size=1200,4000", f"--screenshot={shot}")
    assert not _console(proc.stderr), _console(proc.stderr)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a page, not a blank


def test_hostile_slice_values_execute_nothing(tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(renderer("html")(synthetic_report()), encoding="utf-8")
    dom = _chromium(tmp_path, page, "--dump-dom")
    # A script that ran, or that the Content-Security-Policy had to block, would be logged.
    assert not _console(dom.stderr), _console(dom.stderr)
    html = dom.stdout
    assert "<script" not in html.lower() and "<img" not in html.lower()  # no element was created from the data
    assert "pwned" not in re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert "&lt;img src=x onerror=" in html
