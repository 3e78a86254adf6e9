"""The web app in a real browser: headless Chromium (Debian's `chromium` package) driven by Playwright, against
the platform as `make run` starts it, through the gateway. Screenshots of each step go to .parla/screenshots/;
every page checked is scanned with axe-core (the copy bundled in the axe-playwright-python wheel, so nothing is
downloaded at test time)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from parla_testing.sign_in_provider import SignInProvider

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str:
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    raise pytest.UsageError(
        "the browser suite needs Chromium: install the Debian package `chromium` (apt-get install -y chromium)"
    )


def pytest_configure(config: pytest.Config) -> None:
    # Fails the run with the package to install, before any test starts, rather than skipping.
    chromium_path()


@pytest.fixture(scope="session")
def gateway_url() -> str:
    url = os.environ.get("PARLA_TEST_GATEWAY_URL")
    if not url:
        pytest.fail("PARLA_TEST_GATEWAY_URL is not set: run the tests with `make test SUITES=browser`")
    return url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield browser
    browser.close()


class Screenshots:
    """Numbered screenshots of one run, in the order the steps happen."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    root = Path(os.environ.get("PARLA_TEST_ROOT", "."))
    return Screenshots(root / ".parla" / "screenshots")


# The browser logs every 4xx answer of an API call; the tests provoke some (403 out of hearts, 422 import).
_EXPECTED_CONSOLE_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def _page_errors(page: Page) -> list[str]:
    """Script errors and console errors (a CSP refusal is one) of a page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not _EXPECTED_CONSOLE_ERROR.match(message.text)
            else None
        ),
    )
    return errors


class Tab:
    """One browser context (its own cookies and sessionStorage) with one page, on the app's origin."""

    def __init__(self, browser: Browser, base_url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(base_url=base_url, viewport=viewport)  # type: ignore[arg-type]
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors = _page_errors(self.page)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def new_tab(browser: Browser, gateway_url: str) -> Iterator[Any]:
    tabs: list[Tab] = []

    def open_tab(viewport: dict[str, int] = PHONE) -> Tab:
        tab = Tab(browser, gateway_url, viewport)
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        # A script error or a refused resource (the CSP) is a defect even when the page still looked right.
        assert not tab.errors, tab.errors
        tab.close()


AXE_SOURCE = (resources.files("axe_playwright_python") / "axe.min.js").read_text()


def assert_accessible(page: Page, what: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation of WCAG 2.x A/AA rules."""
    # Evaluated through the DevTools protocol, which the page's CSP (no inline scripts) does not govern.
    results = page.evaluate(
        AXE_SOURCE
        + "\n;axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']}, resultTypes: ['violations']})"
    )
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    described = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(f"{node['target']} {node['failureSummary']}" for node in v["nodes"][:3])
        for v in serious
    ]
    assert not serious, f"{what}: " + "; ".join(described)


def lesson_answers(lesson_key: str) -> dict[str, dict[str, str]]:
    """Per exercise id of a lesson: the right typed answer or the right option's text, and a wrong option's text
    (read from curriculum's own tables: the test's oracle, never shown by the API before an answer)."""

    async def read() -> dict[str, dict[str, str]]:
        connection = await asyncpg.connect(os.environ["PARLA_TEST_ADMIN_DSN"])
        try:
            rows = await connection.fetch(
                "SELECT e.id, e.correct_answer, o.option_text, o.is_correct FROM curriculum.lessons l "
                "JOIN curriculum.lesson_exercises le ON le.lesson_id = l.id "
                "JOIN curriculum.exercises e ON e.id = le.exercise_id "
                "LEFT JOIN curriculum.exercise_options o ON o.exercise_id = e.id WHERE l.key = $1",
                lesson_key,
            )
        finally:
            await connection.close()
        answers: dict[str, dict[str, str]] = {str(row["id"]): {"right": row["correct_answer"]} for row in rows}
        for row in rows:
            if row["option_text"] is not None:  # multiple choice: the options are what a learner picks
                answers[str(row["id"])]["right" if row["is_correct"] else "wrong"] = row["option_text"]
        return answers

    # Playwright's synchronous API keeps an event loop running in this thread: the query runs in another.
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, read()).result()


@pytest.fixture(scope="session")
def google() -> Iterator[SignInProvider]:
    """Google as identity was told to find it (the platform's ``PARLA_OAUTH_GOOGLE_*``, parla-dev's choice)."""
    client = (os.environ["PARLA_OAUTH_GOOGLE_CLIENT_ID"], os.environ["PARLA_OAUTH_GOOGLE_CLIENT_SECRET"])
    with SignInProvider(int(os.environ["PARLA_TEST_OIDC_PORT"]), google_client=client) as provider:
        yield provider


def unique_email(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}@example.com"
