// Building the page: elements are made with h(), never from HTML strings, so text from the API (names, prompts,
// answers, problem details) is always text, never markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "for") {
      element.htmlFor = value;
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the main area with a page: its heading gets the focus, so a screen reader announces the new page. */
export function showPage(title, ...children) {
  const main = document.getElementById("main");
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children.flat(Infinity).filter(Boolean));
  document.title = `${title} · Parla`;
  heading.focus();
  return main;
}

export function announce(message) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  // A change on the next frame is announced even when the same message comes twice.
  requestAnimationFrame(() => {
    announcer.textContent = message;
  });
}

let fieldCounter = 0;

/** A labelled input: the label is tied to the input by id (WCAG 1.3.1, 4.1.2). */
export function field(label, attributes = {}, help = null) {
  const id = attributes.id || `field-${++fieldCounter}`;
  const helpId = help ? `${id}-help` : undefined;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, "aria-describedby": helpId, ...attributes }),
    help ? h("p", { class: "help", id: helpId }, help) : null,
  );
}

/** The problem document of a failed call, as a message a person can act on. */
export function problemBox(error) {
  const problem = error.problem || {};
  const details = (problem.errors || []).map((item) => h("li", {}, item.key ? `${item.key}: ${item.message}` : item.message));
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("p", {}, h("strong", {}, problem.title || "Something went wrong"), problem.detail ? ` — ${problem.detail}` : ""),
    details.length ? h("ul", {}, details) : null,
  );
}

export function formatDate(value) {
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
