// Parla's web app: hash routes (#/courses, #/lesson/<id>, #/admin, ...), so the gateway serves one page and the
// browser never asks the server for an app route.

import { ApiError, anonymous, call, finishOAuth, hasSession, login, logout, onSessionChange, refresh } from "./api.js";
import { announce, field, h, problemBox, showPage } from "./dom.js";
import { adminRoutes } from "./admin.js";

// courseLanguages: the language each course teaches (for the answer field's lang attribute), learnt from its tree.
const state = { user: null, me: null, courseLanguages: new Map() };

// ---------------------------------------------------------------------------------------------- shell

function isAdmin() {
  return Boolean(state.user && state.user.roles.includes("admin"));
}

function renderNav() {
  const nav = document.getElementById("nav");
  const current = location.hash || "#/";
  const link = (href, text) => h("a", { href }, text);
  if (!state.user) {
    nav.replaceChildren(link("#/login", "Log in"), link("#/signup", "Sign up"));
  } else {
    const links = [link("#/courses", "Learn"), link("#/me", "Profile")];
    if (isAdmin()) links.push(link("#/admin", "Admin"));
    nav.replaceChildren(...links, h("button", { type: "button", class: "link-button", onclick: signOut }, "Log out"));
  }
  // The first link whose address starts the current one is the page we are on (#/admin for #/admin/audit).
  const active = [...nav.querySelectorAll("a")].find((anchor) => current.startsWith(anchor.getAttribute("href")));
  if (active) active.setAttribute("aria-current", "page");
}

function renderStats() {
  const bar = document.getElementById("stats");
  const me = state.me;
  if (!state.user || !me) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  bar.replaceChildren(
    h("p", { "data-testid": "hearts" }, h("span", { "aria-hidden": "true" }, "❤ "), `Hearts ${me.hearts} of ${me.max_hearts}`),
    h("p", { "data-testid": "streak" }, h("span", { "aria-hidden": "true" }, "★ "), `Streak ${me.current_streak} ${me.current_streak === 1 ? "day" : "days"}`),
    h(
      "div",
      { class: "goal" },
      h("label", { for: "goal-meter" }, `Today ${me.today.xp} of ${me.daily_xp_goal} XP`),
      h("meter", { id: "goal-meter", min: "0", max: String(me.daily_xp_goal), value: String(Math.min(me.today.xp, me.daily_xp_goal)), "data-testid": "daily-xp" }),
    ),
    h("p", { "data-testid": "total-xp" }, `${me.total_xp} XP in all`),
  );
}

async function loadLearner() {
  state.user = await call("/identity/users/me");
  state.me = await call("/progress/me");
  renderNav();
  renderStats();
}

async function refreshStats() {
  state.me = await call("/progress/me");
  renderStats();
}

async function signOut() {
  await logout().catch(() => undefined);
  go("#/login");
}

onSessionChange((signedIn) => {
  if (!signedIn) {
    state.user = null;
    state.me = null;
    renderNav();
    renderStats();
  }
});

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function busy(button, text) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = text;
  return () => {
    button.disabled = false;
    button.textContent = label;
  };
}

/** A form whose submit runs `action`; a failed call shows its problem above the buttons. */
function form(onSubmit, ...children) {
  const errors = h("div", { class: "errors" });
  const element = h("form", { novalidate: true }, ...children, errors);
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = element.querySelector("button[type=submit]");
    const done = submit ? busy(submit, "Please wait…") : () => undefined;
    errors.replaceChildren();
    try {
      await onSubmit(new FormData(element));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      errors.replaceChildren(problemBox(error));
    } finally {
      if (element.isConnected) done();
    }
  });
  return element;
}

// ---------------------------------------------------------------------------------------------- sign in

const PROVIDER_ERRORS = {
  503: "Signing in with Google is not set up on this server: log in with your email instead.",
  429: "Too many sign-in attempts from here: wait a few minutes and try again.",
};

function loginPage(params) {
  // The gateway sends a refused provider login back here with its status (?provider_error=503, ...).
  const providerError = params.get("provider_error");
  showPage(
    "Log in",
    providerError
      ? h("div", { class: "problem", role: "alert" }, h("p", {}, PROVIDER_ERRORS[providerError] || `Signing in with Google failed (${providerError}): try again later.`))
      : null,
    h("p", {}, "Learn Spanish a few minutes a day."),
    form(
      async (data) => {
        await login(data.get("email"), data.get("password"));
        await loadLearner();
        go(isAdmin() ? "#/admin" : "#/courses");
      },
      field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
      field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      h("button", { type: "submit", class: "primary" }, "Log in"),
    ),
    h("p", {}, h("a", { href: "/api/identity/auth/oauth/google/authorize", class: "button google" }, "Continue with Google")),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account"), " · ", h("a", { href: "#/forgot-password" }, "Forgot your password?")),
  );
}

function signupPage() {
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  showPage(
    "Create your account",
    form(
      async (data) => {
        const email = data.get("email");
        const password = data.get("password");
        await anonymous("/identity/auth/register", {
          method: "POST",
          body: { name: data.get("name"), email, password, timezone, daily_xp_goal: Number(data.get("goal")) },
        });
        await login(email, password);
        await loadLearner();
        go("#/verify-email");
      },
      field("Name", { name: "name", autocomplete: "name", required: true }),
      field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
      field(
        "Password",
        { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "8" },
        "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "goal" }, "Daily goal"),
        h(
          "select",
          { id: "goal", name: "goal" },
          [10, 20, 30, 50].map((xp) => h("option", { value: String(xp), selected: xp === 20 }, `${xp} XP a day`)),
        ),
      ),
      h("p", { class: "help" }, `Your days follow your time zone: ${timezone}.`),
      h("button", { type: "submit", class: "primary" }, "Sign up"),
    ),
    h("p", {}, "Already learning? ", h("a", { href: "#/login" }, "Log in")),
  );
}

function verifyPage(params) {
  const verify = async (token) => {
    await anonymous("/identity/auth/verify-email", { method: "POST", body: { token } });
    if (hasSession()) await loadLearner();
    announce("Email address confirmed");
    showPage("Email confirmed", h("p", {}, "Thank you, your email address is confirmed."), h("a", { href: hasSession() ? "#/courses" : "#/login", class: "button primary" }, "Go on"));
  };
  showPage(
    "Confirm your email",
    h("p", {}, "We sent you a code by mail. Type it here (or open the link in the mail)."),
    form(
      (data) => verify(data.get("code").trim()),
      field("Code from the mail", { name: "code", autocomplete: "one-time-code", required: true, value: params.get("token") || "" }),
      h("button", { type: "submit", class: "primary" }, "Confirm"),
    ),
    h("p", {}, h("a", { href: "#/courses" }, "Later: start learning now")),
  );
}

function forgotPasswordPage() {
  showPage(
    "Reset your password",
    form(
      async (data) => {
        const answer = await anonymous("/identity/auth/password-reset", { method: "POST", body: { email: data.get("email") } });
        go("#/reset-password");
        announce(answer.detail);
      },
      field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
      h("button", { type: "submit", class: "primary" }, "Mail me a code"),
    ),
  );
}

function resetPasswordPage(params) {
  showPage(
    "Choose a new password",
    form(
      async (data) => {
        await anonymous("/identity/auth/password-reset/confirm", {
          method: "POST",
          body: { token: data.get("code").trim(), new_password: data.get("password") },
        });
        announce("Password changed: log in with the new one");
        go("#/login");
      },
      field("Code from the mail", { name: "code", autocomplete: "one-time-code", required: true, value: params.get("token") || "" }),
      field("New password", { name: "password", type: "password", autocomplete: "new-password", required: true }),
      h("button", { type: "submit", class: "primary" }, "Change password"),
    ),
  );
}

async function oauthReturn(provider, params) {
  showPage("Signing you in…");
  // The code and state leave the address bar (and the history) before anything else happens.
  history.replaceState(null, "", "#/");
  try {
    await finishOAuth(provider, params.toString());
    await loadLearner();
    go("#/courses");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showPage("Sign-in failed", problemBox(error), h("a", { href: "#/login", class: "button" }, "Back to log in"));
  }
}

// ---------------------------------------------------------------------------------------------- learning

async function coursesPage() {
  const [courses, enrollments] = await Promise.all([anonymous("/curriculum/courses"), call("/progress/enrollments")]);
  const enrolled = new Set(enrollments.map((enrollment) => enrollment.course_id));
  showPage(
    "Choose a course",
    h(
      "ul",
      { class: "cards" },
      courses.map((course) =>
        h(
          "li",
          { class: "card" },
          h("h2", {}, course.name),
          h("p", {}, course.description),
          h("p", { class: "muted" }, `${course.from_language} → ${course.to_language} · ${course.difficulty_level}`),
          h(
            "button",
            {
              type: "button",
              class: "primary",
              onclick: async () => {
                if (!enrolled.has(course.id)) await call("/progress/enrollments", { method: "POST", body: { course_id: course.id } });
                go(`#/course/${course.id}`);
              },
            },
            enrolled.has(course.id) ? `Continue ${course.name}` : `Start ${course.name}`,
          ),
        ),
      ),
    ),
  );
}

const STATUS_TEXT = { locked: "Locked", available: "Available", in_progress: "In progress", completed: "Completed" };

async function courseMapPage(courseId) {
  const [tree, progress] = await Promise.all([anonymous(`/curriculum/courses/${courseId}`), call(`/progress/courses/${courseId}`)]);
  const byLesson = new Map(progress.lessons.map((lesson) => [lesson.lesson_id, lesson]));
  state.courseLanguages.set(courseId, tree.to_language);
  await refreshStats();
  showPage(
    tree.name,
    h(
      "p",
      {},
      h("button", { type: "button", onclick: () => go(`#/practice/${courseId}`) }, "Practise your weakest words"),
      " ",
      h("span", { class: "muted" }, "Practice never costs a heart and wins one back."),
    ),
    tree.sections.map((section) =>
      h(
        "section",
        { class: "course-section", "aria-labelledby": `section-${section.id}` },
        h("h2", { id: `section-${section.id}` }, section.name, section.cefr_level ? ` (${section.cefr_level})` : ""),
        section.units.map((unit) =>
          h(
            "div",
            { class: "unit" },
            h("h3", {}, unit.name),
            unit.description ? h("p", { class: "muted" }, unit.description) : null,
            h(
              "ol",
              { class: "lessons" },
              unit.lessons.map((lesson) => {
                const lessonProgress = byLesson.get(lesson.id) || { status: "locked", best_score: 0, completion_count: 0 };
                const status = lessonProgress.status;
                return h(
                  "li",
                  { class: `lesson lesson-${status}`, "data-testid": `lesson-${lesson.key}`, "data-status": status },
                  h("div", {}, h("strong", {}, lesson.name), h("span", { class: "lesson-status" }, STATUS_TEXT[status] || status, status === "completed" ? ` · best ${lessonProgress.best_score}%` : "")),
                  status === "locked"
                    ? h("button", { type: "button", disabled: true, "aria-label": `${lesson.name}: locked, finish the lessons before it first` }, "Locked")
                    : h("button", { type: "button", class: status === "completed" ? "" : "primary", "aria-label": `${status === "completed" ? "Practise" : "Start"} ${lesson.name}`, onclick: () => go(`#/lesson/${lesson.id}`) }, status === "completed" ? "Practise again" : "Start"),
                );
              }),
            ),
          ),
        ),
      ),
    ),
  );
}

function outOfHeartsPage(courseId, problem) {
  showPage(
    "Out of hearts",
    h("p", {}, "You have no hearts left for lessons. Practise to win one back, or wait for them to refill."),
    problem?.next_heart_at ? h("p", {}, `Next heart at ${new Date(problem.next_heart_at).toLocaleTimeString()}.`) : null,
    courseId ? h("button", { type: "button", class: "primary", onclick: () => go(`#/practice/${courseId}`) }, "Practise now") : null,
    h("p", {}, h("a", { href: "#/courses" }, "Back to courses")),
  );
}

/** Exercises by id, for a session: those of a lesson, or (practice) of every lesson of the course until all are found. */
async function exercisesFor(session) {
  const found = new Map();
  const lessonIds = [];
  if (session.lesson_id) {
    lessonIds.push(session.lesson_id);
  } else {
    const tree = await anonymous(`/curriculum/courses/${session.course_id}`);
    tree.sections.forEach((section) => section.units.forEach((unit) => unit.lessons.forEach((lesson) => lessonIds.push(lesson.id))));
  }
  for (const lessonId of lessonIds) {
    const lesson = await anonymous(`/curriculum/lessons/${lessonId}`);
    lesson.exercises.forEach((exercise) => found.set(exercise.id, exercise));
    if (session.exercise_ids.every((id) => found.has(id))) break;
  }
  return found;
}

async function startLesson(lessonId) {
  showPage("Starting the lesson…");
  let session;
  const lesson = await anonymous(`/curriculum/lessons/${lessonId}`);
  try {
    session = await call(`/progress/lessons/${lessonId}/sessions`, { method: "POST" });
  } catch (error) {
    if (error.status === 403) return outOfHeartsPage(lesson.course_id, error.problem);
    throw error;
  }
  const exercises = new Map(lesson.exercises.map((exercise) => [exercise.id, exercise]));
  return runSession(session, exercises, lesson.name);
}

async function startPractice(courseId) {
  showPage("Starting practice…");
  const session = await call("/progress/practice-sessions", { method: "POST", body: { course_id: courseId } });
  return runSession(session, await exercisesFor(session), "Practice");
}

const FEEDBACK_TEXT = {
  exact: "Correct!",
  accent: "Correct, but mind the accents:",
  typo: "Correct, with a typo:",
  wrong: "Not quite. The right answer:",
};

function answerInput(exercise, language) {
  if (exercise.type === "multiple_choice") {
    return h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, "Choose one"),
      exercise.options.map((option, index) =>
        h("div", { class: "choice" }, h("input", { type: "radio", name: "answer", id: `option-${index}`, value: option.id, required: true }), h("label", { for: `option-${index}` }, option.text)),
      ),
    );
  }
  const label = exercise.type === "listening" ? "Type what you hear" : "Your translation";
  return field(label, { name: "answer", autocomplete: "off", autocapitalize: "off", spellcheck: "false", lang: language, required: true });
}

function audioPlayer(exercise) {
  const recordings = exercise.audio || [];
  const qualities = ["low", "medium", "high"].filter((quality) => recordings.some((recording) => recording.quality === quality));
  const player = h("audio", { controls: true, preload: "auto", "data-testid": "exercise-audio", "aria-label": "The sentence to type" });
  const pick = (quality) => {
    const recording = recordings.find((item) => item.quality === quality && player.canPlayType(`audio/${item.format === "mp3" ? "mpeg" : item.format}`)) || recordings.find((item) => item.quality === quality);
    player.src = recording.url;
  };
  const preferred = qualities.includes("medium") ? "medium" : qualities[0];
  if (preferred) pick(preferred);
  return h(
    "div",
    { class: "listening" },
    player,
    h("button", { type: "button", class: "play", onclick: () => player.play() }, "▶ Play the sentence"),
    qualities.length > 1
      ? h(
          "div",
          { class: "field inline" },
          h("label", { for: "audio-quality" }, "Audio quality"),
          h(
            "select",
            { id: "audio-quality", onchange: (event) => pick(event.target.value) },
            qualities.map((quality) => h("option", { value: quality, selected: quality === preferred }, quality)),
          ),
        )
      : null,
  );
}

async function runSession(session, exercises, title) {
  const language = state.courseLanguages.get(session.course_id);
  for (const [index, exerciseId] of session.exercise_ids.entries()) {
    const exercise = exercises.get(exerciseId);
    const outcome = await askExercise(session, exercise, index, title, language);
    if (outcome === "out-of-hearts") return outOfHeartsPage(session.course_id, null);
  }
  const completion = await call(`/progress/sessions/${session.session_id}/complete`, { method: "POST" });
  await refreshStats();
  const continueButton = h("a", { href: `#/course/${session.course_id}`, class: "button primary" }, "Back to the course");
  showPage(
    session.practice ? "Practice complete" : "Lesson complete!",
    h(
      "dl",
      { class: "summary", "data-testid": "completion" },
      h("dt", {}, "Score"), h("dd", {}, `${completion.score}% (${completion.correct_count} of ${completion.total_count} right first time)`),
      h("dt", {}, "XP earned"), h("dd", { "data-testid": "xp-earned" }, `+${completion.xp_earned} XP`),
      h("dt", {}, "Streak"), h("dd", { "data-testid": "completion-streak" }, `${completion.current_streak} ${completion.current_streak === 1 ? "day" : "days"}`),
      h("dt", {}, "Daily goal"), h("dd", {}, completion.daily_goal_met ? "Met today" : "Not yet"),
      h("dt", {}, "Hearts"), h("dd", {}, String(completion.hearts)),
    ),
    completion.achievements_unlocked.length
      ? h("section", { "aria-labelledby": "new-achievements" }, h("h2", { id: "new-achievements" }, "Achievements unlocked"), h("ul", {}, completion.achievements_unlocked.map((item) => h("li", {}, h("strong", {}, item.name), ` — ${item.description} (+${item.xp_reward} XP)`))))
      : null,
    continueButton,
  );
  announce(`Session complete: ${completion.xp_earned} XP earned`);
}

function askExercise(session, exercise, index, title, language) {
  return new Promise((resolve) => {
    const started = Date.now();
    const feedback = h("div", { class: "feedback", "aria-live": "polite" });
    const check = h("button", { type: "submit", class: "primary" }, "Check");
    const exerciseForm = form(
      async (data) => {
        const answer = String(data.get("answer") || "").trim();
        if (!answer) {
          feedback.replaceChildren(h("p", { role: "alert" }, "Answer first, then check."));
          return;
        }
        let result;
        try {
          result = await call(`/progress/sessions/${session.session_id}/answers`, {
            method: "POST",
            body: { exercise_id: exercise.id, answer, time_spent_seconds: Math.round((Date.now() - started) / 1000) },
          });
        } catch (error) {
          if (error.status === 403) return resolve("out-of-hearts");
          throw error;
        }
        exerciseForm.querySelectorAll("input, select").forEach((input) => {
          if (input.id !== "audio-quality") input.disabled = true;
        });
        check.remove();
        const shown = exercise.type === "multiple_choice" ? (exercise.options.find((option) => option.id === result.correct_answer) || {}).text : result.correct_answer;
        const next = h("button", { type: "button", class: "primary", onclick: () => resolve(result) }, index + 1 < session.exercise_ids.length ? "Continue" : "Finish");
        feedback.className = `feedback ${result.correct ? "right" : "wrong"}`;
        feedback.replaceChildren(
          h(
            "div",
            { "data-testid": "feedback", "data-feedback": result.feedback },
            h("p", {}, h("strong", {}, FEEDBACK_TEXT[result.feedback] || (result.correct ? "Correct!" : "Not quite.")), result.feedback === "exact" ? "" : ` ${shown ?? ""}`),
            result.message ? h("p", {}, result.message) : null,
            result.hearts_lost ? h("p", {}, `You lost a heart: ${result.hearts} left.`) : null,
          ),
          next,
        );
        if (state.me) {
          state.me.hearts = result.hearts;
          renderStats();
        }
        next.focus();
      },
      exercise.type === "listening" ? audioPlayer(exercise) : null,
      exercise.hint ? h("p", { class: "hint" }, `Hint: ${exercise.hint}`) : null,
      answerInput(exercise, language),
      check,
    );
    exerciseForm.dataset.exerciseId = exercise.id;
    exerciseForm.dataset.exerciseType = exercise.type;
    showPage(
      exercise.prompt,
      h("p", { class: "muted" }, h("label", { for: "lesson-progress" }, `${title}: exercise ${index + 1} of ${session.exercise_ids.length}`), " ", h("progress", { id: "lesson-progress", max: String(session.exercise_ids.length), value: String(index) })),
      exerciseForm,
      feedback,
    );
    // The heading was announced; typing can start at once.
    exerciseForm.querySelector("input:not([type=radio])")?.focus();
  });
}

// ---------------------------------------------------------------------------------------------- profile

async function profilePage() {
  const [achievements, days] = await Promise.all([call("/progress/me/achievements"), call("/progress/me/daily-xp?days=7")]);
  await refreshStats();
  const user = state.user;
  const me = state.me;
  showPage(
    user.name,
    h("p", {}, user.email, " · ", user.is_email_verified ? "email confirmed" : h("a", { href: "#/verify-email" }, "confirm your email")),
    h("dl", { class: "summary" }, h("dt", {}, "Total XP"), h("dd", {}, String(me.total_xp)), h("dt", {}, "Current streak"), h("dd", {}, `${me.current_streak} days`), h("dt", {}, "Longest streak"), h("dd", {}, `${me.longest_streak} days`)),
    h("h2", {}, "The last 7 days"),
    h("ul", { class: "days" }, days.map((day) => h("li", {}, `${day.date}: ${day.xp_earned} XP${day.goal_met ? " — goal met" : ""}`))),
    h("h2", {}, "Achievements"),
    achievements.length
      ? h("ul", { "data-testid": "achievements" }, achievements.map((item) => h("li", {}, h("strong", {}, item.name), ` — ${item.description}`)))
      : h("p", {}, "None yet: finish a lesson to earn your first."),
  );
}

// ---------------------------------------------------------------------------------------------- routing

const learnerRoutes = [
  [/^#\/courses$/, () => coursesPage()],
  [/^#\/course\/([0-9a-f-]{36})$/, (match) => courseMapPage(match[1])],
  [/^#\/lesson\/([0-9a-f-]{36})$/, (match) => startLesson(match[1])],
  [/^#\/practice\/([0-9a-f-]{36})$/, (match) => startPractice(match[1])],
  [/^#\/me$/, () => profilePage()],
];

const publicRoutes = [
  [/^#\/login$/, (_, params) => loginPage(params)],
  [/^#\/signup$/, () => signupPage()],
  [/^#\/verify-email$/, (_, params) => verifyPage(params)],
  [/^#\/forgot-password$/, () => forgotPasswordPage()],
  [/^#\/reset-password$/, (_, params) => resetPasswordPage(params)],
  [/^#\/oauth\/([a-z0-9_-]+)$/, (match, params) => oauthReturn(match[1], params)],
];

async function route() {
  const [path, query = ""] = (location.hash || "#/").split("?");
  const params = new URLSearchParams(query);
  renderNav();
  try {
    for (const [pattern, page] of publicRoutes) {
      const match = path.match(pattern);
      if (match) return await page(match, params);
    }
    if (!state.user) {
      if (!hasSession()) return go("#/login");
      await loadLearner();
    }
    for (const [pattern, page] of [...learnerRoutes, ...adminRoutes]) {
      const match = path.match(pattern);
      if (match) {
        if (pattern.source.includes("admin") && !isAdmin()) return showPage("Not allowed", h("p", {}, "This page is for admins."));
        return await page(match, params);
      }
    }
    return go(isAdmin() ? "#/admin" : "#/courses");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401 && !hasSession()) return go("#/login");
    return showPage("Something went wrong", problemBox(error), h("a", { href: "#/", class: "button" }, "Start again"));
  }
}

window.addEventListener("hashchange", route);
// A reload keeps the tab signed in: the refresh token in sessionStorage buys a new access token.
if (hasSession()) refresh().catch(() => undefined).finally(route);
else route();
