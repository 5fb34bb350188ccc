"""A headless Chromium for the kit's browser tests (the camera page, the class report, the docs site)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

INSTALL_BROWSER = (
    "needs Chromium, its driver and Selenium: apt-get install chromium chromium-driver "
    "(Debian/Ubuntu) and pip install -e '.[dev]' (or pip install selenium flask)"
)


def browser_or_skip(*modules: str) -> None:
    """Skip (or fail, where FACEKIT_REQUIRE_BROWSER says the browser test must run) without
    Chromium, its driver, Selenium and ``modules``."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    for module in ("selenium", *modules):
        try:
            __import__(module)
        except ModuleNotFoundError:
            missing.append(module)
    if missing:
        if os.environ.get("FACEKIT_REQUIRE_BROWSER"):
            pytest.fail(
                f"the browser test must run here (FACEKIT_REQUIRE_BROWSER), but "
                f"{', '.join(missing)} is missing: {INSTALL_BROWSER}"
            )
        pytest.skip(f"{', '.join(missing)} not installed; the browser test {INSTALL_BROWSER}")


def headless_chromium(profile: Path, window: str, *arguments: str, console_log: bool = False) -> Any:
    """A started headless Chromium (a Selenium driver: the caller quits it), with its own profile
    folder, no background traffic, ``window`` as "W,H" and ``arguments`` added."""
    browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={window}",
        f"--user-data-dir={profile}",
        *arguments,
    ):
        options.add_argument(argument)
    if console_log:  # the page's console, for tests that read it
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    return driver
