// The admin console: learners and their activity, the audit log and its verification, learning analytics as
// charts, and the course import. identity checks the admin role on every call; the menu only hides what a
// learner could not use anyway.

import { ApiError, anonymous, call } from "./api.js";
import { barChart, dayChart } from "./charts.js";
import { field, formatDate, h, problemBox, showPage } from "./dom.js";

function adminMenu(current) {
  const items = [
    ["#/admin", "Learners"],
    ["#/admin/audit", "Audit log"],
    ["#/admin/lessons", "Lessons"],
    ["#/admin/engagement", "Engagement"],
    ["#/admin/import", "Course import"],
  ];
  return h(
    "nav",
    { "aria-label": "Admin", class: "subnav" },
    items.map(([href, text]) => h("a", { href, "aria-current": href === current ? "page" : undefined }, text)),
  );
}

function percent(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${Math.round(ratio * 100)}%`;
}

function table(caption, columns, rows, attributes = {}) {
  return h(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      attributes,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- learners

async function learnersPage(params) {
  const email = params.get("email") || "";
  const page = await call(`/identity/admin/users?limit=20&email=${encodeURIComponent(email)}`);
  const search = h(
    "form",
    { role: "search", class: "inline-form" },
    field("Find learners by email", { name: "email", type: "search", value: email }),
    h("button", { type: "submit" }, "Search"),
  );
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/admin?email=${encodeURIComponent(new FormData(search).get("email"))}`;
  });
  showPage(
    "Learners",
    adminMenu("#/admin"),
    search,
    table(
      `${page.total} accounts, newest first`,
      ["Name", "Email", "Joined", "Roles"],
      page.items.map((user) => [h("a", { href: `#/admin/learner/${user.id}` }, user.name), user.email, formatDate(user.created_at), user.roles.join(", ") || "learner"]),
    ),
  );
}

function activitySummary(item) {
  const data = item.activity_data || {};
  const parts = [];
  if ("correct" in data) parts.push(data.correct ? "right" : "wrong");
  if ("score" in data) parts.push(`score ${data.score}%`);
  if ("xp" in data || "amount" in data) parts.push(`${data.xp ?? data.amount} XP`);
  if ("hearts" in data) parts.push(`hearts ${data.hearts}`);
  if ("streak" in data || "current_streak" in data) parts.push(`streak ${data.streak ?? data.current_streak}`);
  return parts.join(", ");
}

async function learnerPage(userId) {
  const [user, activity] = await Promise.all([call(`/identity/admin/users/${userId}`), call(`/analytics/users/${userId}/activity?limit=50`)]);
  const rows = (items) => items.map((item) => [formatDate(item.created_at), item.activity_type, activitySummary(item)]);
  const activityTable = table(`${user.name}'s activity, newest first`, ["When", "What", "Details"], rows(activity.items), { "data-testid": "activity" });
  const more = h("button", { type: "button", hidden: !activity.next_cursor }, "Load more");
  let cursor = activity.next_cursor;
  more.addEventListener("click", async () => {
    const next = await call(`/analytics/users/${userId}/activity?limit=50&cursor=${encodeURIComponent(cursor)}`);
    activityTable.querySelector("tbody").append(...rows(next.items).map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell)))));
    cursor = next.next_cursor;
    more.hidden = !cursor;
  });
  showPage(
    user.name,
    adminMenu(""),
    h("p", {}, `${user.email} · ${user.is_email_verified ? "email confirmed" : "email not confirmed"} · joined ${formatDate(user.created_at)}`),
    activityTable,
    more,
  );
}

// ---------------------------------------------------------------------------------------------- audit log

async function auditPage() {
  const log = await call("/analytics/audit-log?limit=50");
  const result = h("div", { "aria-live": "polite", "data-testid": "audit-verify" });
  const verify = h("button", { type: "button", class: "primary" }, "Verify the chain");
  verify.addEventListener("click", async () => {
    verify.disabled = true;
    result.replaceChildren(h("p", {}, "Verifying…"));
    try {
      const outcome = await call("/analytics/audit-log/verify");
      result.replaceChildren(
        h(
          "p",
          { class: outcome.ok ? "ok" : "broken" },
          outcome.ok
            ? `Intact: ${outcome.checked} entries checked${outcome.checkpoint_seq !== null ? `, agreeing with the signed checkpoint at #${outcome.checkpoint_seq}` : ""}.`
            : `Broken at entry ${outcome.first_broken_id}: ${outcome.reason} (${outcome.checked} checked).`,
        ),
      );
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      result.replaceChildren(problemBox(error));
    } finally {
      verify.disabled = false;
    }
  });
  showPage(
    "Audit log",
    adminMenu("#/admin/audit"),
    h("p", {}, verify),
    result,
    table(
      "The latest 50 administrative actions, newest first",
      ["#", "When", "Action", "Table", "Record"],
      log.items.map((entry) => [String(entry.seq), formatDate(entry.created_at), entry.action, entry.table_name || "–", entry.record_id ? entry.record_id.slice(0, 8) : "–"]),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- lessons

async function lessonsPage(params) {
  const courses = await anonymous("/curriculum/courses");
  if (!courses.length) return showPage("Lessons", adminMenu("#/admin/lessons"), h("p", {}, "No course yet: import one."));
  const courseId = params.get("course") || courses[0].id;
  const [tree, rates] = await Promise.all([anonymous(`/curriculum/courses/${courseId}`), call(`/analytics/lessons/completion-rates?course_id=${courseId}`)]);
  const lessons = tree.sections.flatMap((section) => section.units.flatMap((unit) => unit.lessons));
  const rateOf = new Map(rates.lessons.map((lesson) => [lesson.lesson_id, lesson]));
  const lessonRows = lessons.map((lesson) => ({ lesson, rate: rateOf.get(lesson.id) || { starts: 0, completions: 0, completion_rate: null, average_score: null } }));
  const lessonId = params.get("lesson") || lessons[0]?.id;
  const picker = h(
    "form",
    { class: "inline-form" },
    h("div", { class: "field" }, h("label", { for: "course-pick" }, "Course"), h("select", { id: "course-pick", name: "course", onchange: (event) => (location.hash = `#/admin/lessons?course=${event.target.value}`) }, courses.map((course) => h("option", { value: course.id, selected: course.id === courseId }, course.name)))),
    h("div", { class: "field" }, h("label", { for: "lesson-pick" }, "Lesson for exercise accuracy"), h("select", { id: "lesson-pick", name: "lesson" }, lessons.map((lesson) => h("option", { value: lesson.id, selected: lesson.id === lessonId }, lesson.name)))),
    h("button", { type: "submit" }, "Show"),
  );
  picker.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(picker);
    location.hash = `#/admin/lessons?course=${data.get("course")}&lesson=${data.get("lesson")}`;
  });
  const charts = [
    barChart({
      title: "Completion rate per lesson",
      testId: "completion-chart",
      max: 1,
      items: lessonRows.map(({ lesson, rate }) => ({ label: lesson.name, value: rate.completion_rate || 0, text: `${percent(rate.completion_rate)} of ${rate.starts}` })),
      columns: ["Lesson", "Starts", "Completions", "Completion rate", "Average score"],
      rows: lessonRows.map(({ lesson, rate }) => [lesson.name, String(rate.starts), String(rate.completions), percent(rate.completion_rate), rate.average_score === null ? "–" : `${Math.round(rate.average_score)}%`]),
    }),
  ];
  if (lessonId) {
    const [lesson, accuracy] = await Promise.all([anonymous(`/curriculum/lessons/${lessonId}`), call(`/analytics/exercises/accuracy?lesson_id=${lessonId}`)]);
    const accuracyOf = new Map(accuracy.exercises.map((exercise) => [exercise.exercise_id, exercise]));
    const exerciseRows = lesson.exercises.map((exercise, index) => ({
      label: `${index + 1}. ${exercise.prompt}`,
      stats: accuracyOf.get(exercise.id) || { attempts: 0, correct: 0, accuracy: null, average_time_seconds: null },
    }));
    charts.push(
      barChart({
        title: `Accuracy per exercise: ${lesson.name}`,
        testId: "accuracy-chart",
        max: 1,
        items: exerciseRows.map(({ label, stats }) => ({ label, value: stats.accuracy || 0, text: `${percent(stats.accuracy)} of ${stats.attempts}` })),
        columns: ["Exercise", "Attempts", "Right", "Accuracy", "Average time"],
        rows: exerciseRows.map(({ label, stats }) => [label, String(stats.attempts), String(stats.correct), percent(stats.accuracy), stats.average_time_seconds === null ? "–" : `${Math.round(stats.average_time_seconds)} s`]),
      }),
    );
  }
  showPage("Lessons", adminMenu("#/admin/lessons"), picker, charts);
}

// ---------------------------------------------------------------------------------------------- engagement

async function engagementPage() {
  const [daily, retention] = await Promise.all([call("/analytics/engagement/daily-active"), call("/analytics/engagement/retention-cohorts")]);
  const weeks = Math.max(0, ...retention.cohorts.map((cohort) => cohort.weeks.length));
  const cohorts = retention.cohorts.filter((cohort) => cohort.signups > 0);
  showPage(
    "Engagement",
    adminMenu("#/admin/engagement"),
    dayChart({
      title: `Daily active learners, ${daily.from} to ${daily.to}`,
      testId: "daily-active-chart",
      days: daily.days.map((day) => ({ date: day.date, value: day.learners })),
      columns: ["Day", "Active learners"],
    }),
    h("h2", {}, "Retention by sign-up week"),
    cohorts.length
      ? table(
          "Share of each week's new learners active N weeks later",
          ["Cohort (week of)", "Sign-ups", ...Array.from({ length: weeks }, (_, week) => `Week ${week}`)],
          cohorts.map((cohort) => [
            cohort.cohort_week,
            String(cohort.signups),
            ...cohort.weeks.map((week) => h("span", { class: "heat", "data-level": String(Math.round((week.rate || 0) * 4)) }, `${percent(week.rate)} (${week.learners})`)),
          ]),
          { "data-testid": "retention" },
        )
      : h("p", {}, "No sign-ups in these weeks."),
  );
}

// ---------------------------------------------------------------------------------------------- import

function importPage() {
  const outcome = h("div", { "aria-live": "polite", "data-testid": "import-result" });
  const upload = h(
    "form",
    {},
    field("Course document (YAML or JSON, format parla-course/1)", { name: "document", type: "file", accept: ".yaml,.yml,.json,application/yaml,application/json", required: true }),
    h("button", { type: "submit", class: "primary" }, "Import"),
  );
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = new FormData(upload).get("document");
    if (!file || !file.size) {
      outcome.replaceChildren(h("p", { role: "alert" }, "Choose a file first."));
      return;
    }
    const contentType = file.name.endsWith(".json") ? "application/json" : "application/yaml";
    outcome.replaceChildren(h("p", {}, "Importing…"));
    try {
      const result = await call("/curriculum/admin/courses/import", { method: "POST", body: await file.text(), contentType });
      outcome.replaceChildren(h("p", { class: "ok" }, `Imported ${result.key}: ${result.created} created, ${result.updated} updated, ${result.deleted} deleted.`));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const errors = error.problem.errors || [];
      outcome.replaceChildren(
        h("p", { role: "alert", class: "broken" }, h("strong", {}, error.problem.title || "Import failed"), errors.length ? ` — ${errors.length} problem(s):` : ` — ${error.problem.detail || ""}`),
        ...(errors.length ? [table("Problems by path in the document", ["Path", "Problem"], errors.map((item) => [h("code", {}, item.key || "(document)"), item.message]))] : []),
      );
    }
  });
  showPage("Course import", adminMenu("#/admin/import"), h("p", {}, "Importing a course again updates it in place (by its keys); see content/README.md for the format."), upload, outcome);
}

export const adminRoutes = [
  [/^#\/admin$/, (_, params) => learnersPage(params)],
  [/^#\/admin\/learner\/([0-9a-f-]{36})$/, (match) => learnerPage(match[1])],
  [/^#\/admin\/audit$/, () => auditPage()],
  [/^#\/admin\/lessons$/, (_, params) => lessonsPage(params)],
  [/^#\/admin\/engagement$/, () => engagementPage()],
  [/^#\/admin\/import$/, () => importPage()],
];
