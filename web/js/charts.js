// Charts as inline SVG, each with its numbers as a table too (a screen reader reads the table; the picture has a
// text alternative naming what it shows). No chart library: these few bar charts are ~100 lines.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
let chartCounter = 0;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

function shorten(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function dataTable(caption, columns, rows) {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Show the numbers"),
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, index) => (index === 0 ? h("th", { scope: "row" }, cell) : h("td", {}, cell)))))),
    ),
  );
}

/**
 * Horizontal bars, one per item: `items` are {label, value, text} with value in [0, max]; `columns` and `rows`
 * feed the table that carries the exact numbers.
 */
export function barChart({ title, items, max, columns, rows, testId }) {
  const id = `chart-${++chartCounter}`;
  const rowHeight = 30;
  const labelWidth = 190;
  const barSpace = 330;
  const height = Math.max(items.length, 1) * rowHeight + 8;
  const picture = svg(
    "svg",
    { viewBox: `0 0 600 ${height}`, role: "img", "aria-labelledby": `${id}-title`, class: "chart" },
    svg("title", { id: `${id}-title` }, `${title}: ${items.length} bars; the numbers are in the table below`),
  );
  items.forEach((item, index) => {
    const y = index * rowHeight + 4;
    const width = max > 0 ? Math.max((item.value / max) * barSpace, item.value > 0 ? 2 : 0) : 0;
    picture.append(
      svg("text", { x: labelWidth - 8, y: y + 19, "text-anchor": "end", class: "chart-label" }, shorten(item.label, 24)),
      svg("rect", { x: labelWidth, y: y + 4, width, height: rowHeight - 10, rx: 3, class: "chart-bar" }),
      svg("text", { x: labelWidth + width + 6, y: y + 19, class: "chart-value" }, item.text),
    );
  });
  return h(
    "figure",
    { class: "chart-figure", "data-testid": testId },
    h("figcaption", {}, title),
    items.length ? picture : h("p", {}, "No data yet."),
    dataTable(title, columns, rows),
  );
}

/** Vertical bars over days (daily actives): `days` are {date, value}. */
export function dayChart({ title, days, columns, testId }) {
  const id = `chart-${++chartCounter}`;
  const max = Math.max(1, ...days.map((day) => day.value));
  const width = 600;
  const height = 200;
  const step = width / Math.max(days.length, 1);
  const picture = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height + 24}`, role: "img", "aria-labelledby": `${id}-title`, class: "chart" },
    svg("title", { id: `${id}-title` }, `${title}: ${days.length} days, at most ${max}; the numbers are in the table below`),
  );
  days.forEach((day, index) => {
    const barHeight = (day.value / max) * (height - 20);
    picture.append(svg("rect", { x: index * step + 2, y: height - barHeight, width: Math.max(step - 4, 1), height: barHeight, class: "chart-bar" }));
    if (index % Math.ceil(days.length / 6) === 0) {
      picture.append(svg("text", { x: index * step + 2, y: height + 18, class: "chart-label" }, day.date.slice(5)));
    }
  });
  picture.append(svg("text", { x: 0, y: 14, class: "chart-value" }, `max ${max}`));
  return h(
    "figure",
    { class: "chart-figure", "data-testid": testId },
    h("figcaption", {}, title),
    picture,
    dataTable(title, columns, days.map((day) => [day.date, String(day.value)])),
  );
}
