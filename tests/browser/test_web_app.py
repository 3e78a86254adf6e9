"""A learner and an admin use the web app in headless Chromium, through the gateway, on a phone-sized screen
(the admin on a desktop one): sign-up, the mailed code, the first lesson with one wrong answer, a listening
exercise whose audio plays, and the admin console seeing that learner's activity and a chart that changed.
Every page visited is checked with axe-core and photographed."""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DESKTOP, Screenshots, Tab, assert_accessible, lesson_answers, unique_email
from playwright.sync_api import Page, expect

from parla_testing.mail import mailed_code
from parla_testing.sign_in_provider import SignInProvider

PASSWORD = "Browser-pass1"
ADMIN = ("admin@parla.local", "ParlaAdmin1!")
FIRST_LESSON = "greetings-1"
COURSE = "Spanish for English speakers"
COURSE_KEY = "es-from-en"

NewTab = Callable[..., Tab]


@functools.cache
def spanish_course_id() -> str:
    courses = httpx.get(
        f"{os.environ['PARLA_TEST_GATEWAY_URL']}/api/curriculum/courses", params={"from": "en", "to": "es"}
    )
    return str(next(course["id"] for course in courses.json() if course["key"] == COURSE_KEY))


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def completion_row(page: Page, lesson_name: str) -> list[str]:
    """The numbers behind the completion-rate chart for one lesson of the Spanish course: starts, completions,
    rate, average score."""
    # Other suites may have imported courses of their own into this database: the Spanish one is asked for by id,
    # with a new address each time so the page loads afresh.
    course_id = spanish_course_id()
    page.goto(f"/#/admin/lessons?course={course_id}&seen={time.monotonic_ns()}")
    expect(page.get_by_label("Course", exact=True)).to_have_value(course_id)
    figure = page.get_by_test_id("completion-chart")
    expect(figure).to_be_visible()
    row = figure.locator("tbody tr").filter(has=page.locator("th", has_text=re.compile(f"^{re.escape(lesson_name)}$")))
    expect(row).to_have_count(1)
    return [cell.strip() for cell in row.locator("td").all_text_contents()]


def hearts(page: Page) -> int:
    text = page.get_by_test_id("hearts").inner_text()
    match = re.search(r"Hearts (\d+) of", text)
    assert match, text
    return int(match.group(1))


def play_audio(page: Page) -> dict[str, Any]:
    """Presses the play button and waits until the recording has really played for a moment."""
    page.get_by_role("button", name="Play the sentence").click()
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=exercise-audio]'); return a.currentTime > 0.2 || a.ended; }",
        timeout=10_000,
    )
    return dict(
        page.evaluate(
            "() => { const a = document.querySelector('[data-testid=exercise-audio]');"
            " return {src: a.currentSrc, duration: a.duration, error: a.error && a.error.code}; }"
        )
    )


def answer_exercise(page: Page, answer: str, exercise_type: str) -> None:
    if exercise_type == "multiple_choice":
        page.get_by_role("radio", name=answer, exact=True).check()
    else:
        page.get_by_label("Type what you hear" if exercise_type == "listening" else "Your translation").fill(answer)
    page.get_by_role("button", name="Check").click()


def test_a_new_learner_finishes_the_first_lesson_and_the_admin_sees_it(
    new_tab: NewTab, screenshots: Screenshots
) -> None:
    # The admin's view before: the first lesson's completion numbers.
    admin = new_tab(DESKTOP)
    log_in(admin.page, *ADMIN)
    expect(admin.page.get_by_role("heading", name="Learners")).to_be_visible()
    before = completion_row(admin.page, "Hello!")
    admin.close()

    # Sign-up, on a phone.
    learner = new_tab()
    page = learner.page
    email = unique_email("web")
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert_accessible(page, "log-in page")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Name").fill("Lucía")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    assert_accessible(page, "sign-up page")
    screenshots.take(page, "sign-up")
    page.get_by_role("button", name="Sign up").click()

    # The mailed code confirms the address.
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    page.get_by_label("Code from the mail").fill(mailed_code(email, "Confirm"))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Email confirmed")).to_be_visible()
    page.get_by_role("link", name="Go on").click()

    # The Spanish course, and its map: the first lesson open, the next one locked.
    expect(page.get_by_role("heading", name="Choose a course")).to_be_visible()
    assert_accessible(page, "course list")
    page.get_by_role("button", name=f"Start {COURSE}").click()
    expect(page.get_by_test_id(f"lesson-{FIRST_LESSON}")).to_have_attribute("data-status", "available")
    expect(page.get_by_test_id("lesson-greetings-2")).to_have_attribute("data-status", "locked")
    expect(page.get_by_test_id("streak")).to_contain_text("Streak 0 days")
    assert_accessible(page, "course map")
    screenshots.take(page, "course-map")
    hearts_at_start = hearts(page)

    # The first lesson: one wrong answer, one without its accent, a listening exercise played, the rest right.
    answers = lesson_answers(FIRST_LESSON)
    page.get_by_role("button", name="Start Hello!").click()
    wrong_done = accent_done = listened = False
    audio: dict[str, Any] = {}
    while True:
        exercise = page.locator("form[data-exercise-id]")
        expect(exercise).to_be_visible()
        exercise_id = exercise.get_attribute("data-exercise-id") or ""
        exercise_type = exercise.get_attribute("data-exercise-type") or ""
        right = answers[exercise_id]["right"]
        if not wrong_done and exercise_type == "translation":
            answer_exercise(page, "no lo sé", exercise_type)
            feedback = page.get_by_test_id("feedback")
            expect(feedback).to_have_attribute("data-feedback", "wrong")
            expect(feedback).to_contain_text(right)  # the correction
            expect(page.get_by_test_id("hearts")).to_contain_text(f"Hearts {hearts_at_start - 1} of")
            assert_accessible(page, "a correction")
            screenshots.take(page, "correction")
            wrong_done = True
        elif not accent_done and exercise_type == "translation" and right != (plain := _without_accents(right)):
            answer_exercise(page, plain, exercise_type)
            expect(page.get_by_test_id("feedback")).to_have_attribute("data-feedback", "accent")
            expect(page.get_by_test_id("feedback")).to_contain_text(right)
            accent_done = True
        elif exercise_type == "listening" and not listened:
            expect(page.get_by_label("Audio quality")).to_be_visible()
            audio = play_audio(page)
            assert_accessible(page, "a listening exercise")
            screenshots.take(page, "listening")
            answer_exercise(page, right, exercise_type)
            expect(page.get_by_test_id("feedback")).to_have_attribute("data-feedback", "exact")
            listened = True
        else:
            answer_exercise(page, right, exercise_type)
            expect(page.get_by_test_id("feedback")).to_have_attribute("data-feedback", re.compile("exact|accent|typo"))
        if page.get_by_role("button", name="Finish").count():
            page.get_by_role("button", name="Finish").click()
            break
        page.get_by_role("button", name="Continue").click()
    assert (wrong_done, accent_done, listened) == (True, True, True)
    assert (audio["error"], audio["duration"] > 0, "/media/" in audio["src"]) == (None, True, True), audio

    # The summary: XP earned, the streak started, the stats bar follows.
    expect(page.get_by_role("heading", name="Lesson complete!")).to_be_visible()
    expect(page.get_by_test_id("xp-earned")).to_contain_text(re.compile(r"\+[1-9]\d* XP"))
    expect(page.get_by_test_id("completion-streak")).to_have_text("1 day")
    expect(page.get_by_test_id("streak")).to_contain_text("Streak 1 day")
    expect(page.get_by_test_id("daily-xp")).not_to_have_attribute("value", "0")
    expect(page.get_by_test_id("hearts")).to_contain_text(f"Hearts {hearts_at_start - 1} of")
    assert_accessible(page, "lesson summary")
    screenshots.take(page, "lesson-complete")
    page.get_by_role("link", name="Back to the course").click()
    expect(page.get_by_test_id(f"lesson-{FIRST_LESSON}")).to_have_attribute("data-status", "completed")
    expect(page.get_by_test_id("lesson-greetings-2")).to_have_attribute("data-status", "available")
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_test_id("achievements")).to_be_visible()
    assert_accessible(page, "profile")

    # The admin sees this learner's activity and the first lesson's numbers moved.
    admin = new_tab(DESKTOP)
    log_in(admin.page, *ADMIN)
    admin.page.get_by_label("Find learners by email").fill(email)
    admin.page.get_by_role("button", name="Search").click()
    admin.page.get_by_role("row").filter(has_text=email).get_by_role("link", name="Lucía").click()
    activity = admin.page.get_by_test_id("activity")
    _eventually(admin.page, lambda: activity.count() > 0 and "lesson_complete" in activity.inner_text())
    expect(activity).to_contain_text("exercise_answer")
    assert_accessible(admin.page, "a learner's activity")
    screenshots.take(admin.page, "admin-learner-activity")

    after = _eventually_value(lambda: completion_row(admin.page, "Hello!"), lambda row: row != before)
    # One more start and one more completion of the first lesson (the chart's numbers).
    assert (int(after[0]), int(after[1])) == (int(before[0]) + 1, int(before[1]) + 1), (before, after)
    expect(admin.page.get_by_test_id("accuracy-chart")).to_be_visible()
    assert_accessible(admin.page, "lesson charts")
    screenshots.take(admin.page, "admin-lesson-charts")

    admin.page.get_by_role("link", name="Engagement").click()
    daily = admin.page.get_by_test_id("daily-active-chart")
    expect(daily).to_be_visible()
    assert daily.locator("tbody tr").last.locator("td").inner_text() != "0"
    expect(admin.page.get_by_test_id("retention")).to_be_visible()
    assert_accessible(admin.page, "engagement charts")
    screenshots.take(admin.page, "admin-engagement")

    admin.page.get_by_role("link", name="Audit log").click()
    admin.page.get_by_role("button", name="Verify the chain").click()
    expect(admin.page.get_by_test_id("audit-verify")).to_contain_text("Intact")
    assert_accessible(admin.page, "audit log")
    screenshots.take(admin.page, "admin-audit-log")


def test_a_course_document_with_mistakes_shows_them_by_path(new_tab: NewTab, tmp_path: Path) -> None:
    admin = new_tab(DESKTOP)
    log_in(admin.page, *ADMIN)
    admin.page.get_by_role("link", name="Course import").click()
    document = tmp_path / "broken.yaml"
    document.write_text("format: parla-course/1\nkey: broken\nfrom_language: en\nto_language: es\nsections: []\n")
    admin.page.get_by_label(re.compile("Course document")).set_input_files(str(document))
    admin.page.get_by_role("button", name="Import").click()
    result = admin.page.get_by_test_id("import-result")
    expect(result).to_contain_text("Invalid course document")
    expect(result.get_by_role("table")).to_contain_text("name")  # a missing field, named by its path
    assert_accessible(admin.page, "course import errors")


def test_a_learner_is_refused_the_admin_console(new_tab: NewTab) -> None:
    learner = new_tab()
    email = unique_email("nosy")
    learner.page.goto("/#/signup")
    learner.page.get_by_label("Name").fill("Nosy")
    learner.page.get_by_label("Email").fill(email)
    learner.page.get_by_label("Password").fill(PASSWORD)
    learner.page.get_by_role("button", name="Sign up").click()
    expect(learner.page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    expect(learner.page.get_by_role("link", name="Admin")).to_have_count(0)
    learner.page.goto("/#/admin/audit")
    expect(learner.page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_out_of_hearts_leads_to_practice(new_tab: NewTab, screenshots: Screenshots) -> None:
    tab = new_tab()
    page = tab.page
    page.goto("/#/signup")
    page.get_by_label("Name").fill("Pablo")
    page.get_by_label("Email").fill(unique_email("hearts"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("link", name="Later: start learning now").click()
    page.get_by_role("button", name=f"Start {COURSE}").click()
    page.get_by_role("button", name="Start Hello!").click()
    answers = lesson_answers(FIRST_LESSON)
    while not page.get_by_role("heading", name="Out of hearts").count():
        exercise = page.locator("form[data-exercise-id]")
        expect(exercise.or_(page.get_by_role("heading", name="Out of hearts"))).to_be_visible()
        if not exercise.count():
            break
        exercise_type = exercise.get_attribute("data-exercise-type") or ""
        wrong = answers[exercise.get_attribute("data-exercise-id") or ""].get("wrong", "no lo sé")
        answer_exercise(page, wrong, exercise_type)
        expect(page.get_by_test_id("feedback").or_(page.get_by_role("heading", name="Out of hearts"))).to_be_visible()
        if page.get_by_role("button", name="Continue").count():
            page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("hearts")).to_contain_text("Hearts 0 of")
    assert_accessible(page, "out of hearts")
    screenshots.take(page, "out-of-hearts")
    page.get_by_role("button", name="Practise now").click()
    expect(page.locator("form[data-exercise-id]")).to_be_visible()
    expect(page.get_by_label("Practice: exercise 1 of", exact=False)).to_be_visible()


def test_continue_with_google_signs_in_through_the_provider(new_tab: NewTab, google: SignInProvider) -> None:
    email = unique_email("google")
    google.person = {"sub": f"google-{email}", "email": email, "email_verified": True, "name": "Gabriela"}
    tab = new_tab()
    page = tab.page
    page.goto("/#/login")
    page.get_by_role("link", name="Continue with Google").click()
    expect(page.get_by_role("heading", name="Choose a course")).to_be_visible()
    assert google.issued_id_tokens >= 1
    # The one-time code and state left the address bar.
    assert "code=" not in page.url
    assert "state=" not in page.url
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Gabriela")).to_be_visible()
    expect(page.get_by_text(email)).to_be_visible()
    # A reload keeps the tab signed in (the refresh token, rotated), a new tab does not share it.
    page.reload()
    expect(page.get_by_role("heading", name="Gabriela")).to_be_visible()
    other = new_tab()
    other.page.goto("/#/me")
    expect(other.page.get_by_role("heading", name="Log in")).to_be_visible()


def _without_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _eventually(page: Page, condition: Callable[[], bool], timeout: float = 20) -> None:
    """Analytics follows the events asynchronously: reload until the condition holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"the admin console never showed the learner's activity: {page.inner_text('main')[:800]}")
        time.sleep(1)
        page.reload()
        page.locator("main h1").wait_for()  # the page has rendered again (the app signs in anew after a reload)


def _eventually_value(
    read: Callable[[], list[str]], done: Callable[[list[str]], bool], timeout: float = 20
) -> list[str]:
    deadline = time.monotonic() + timeout
    while not done(value := read()):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.5)
    return value
