// How the run's calls ended, as horizontal bars (an SVG the page draws itself: no library,
// no other host), with the same numbers as text for screen readers.

import { h } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const ORDER = ["completed", "voicemail", "busy", "no-answer", "failed", "canceled", "unknown", "skipped", "pending"];

function s(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function outcomesChart(outcomes) {
  const entries = ORDER.map((k) => [k, outcomes?.[k] ?? 0]);
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const rowH = 22;
  const svg = s("svg", { viewBox: `0 0 320 ${entries.length * rowH}`, role: "img", "aria-labelledby": "chart-title", class: "outcomes" });
  svg.append(s("title", { id: "chart-title" }, "How the calls ended"));
  entries.forEach(([name, value], i) => {
    const y = i * rowH;
    svg.append(s("text", { x: 0, y: y + 15, class: "label" }, name));
    svg.append(s("rect", { x: 90, y: y + 4, width: Math.max(0, (190 * value) / max), height: 14, class: `bar ${name}` }));
    svg.append(s("text", { x: 90 + (190 * value) / max + 4, y: y + 15, class: "value" }, String(value)));
  });
  const text = h("ul", { class: "visually-hidden" }, entries.map(([k, v]) => h("li", {}, `${k}: ${v}`)));
  return h("figure", {}, h("figcaption", {}, "How the calls ended"), svg, text);
}
