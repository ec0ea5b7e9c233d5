// A calling window's fields (days, start, end), for the start form and the settings.

import { h, uid } from "../dom.js";

const DAYS = [
  ["mon", "Mon"],
  ["tue", "Tue"],
  ["wed", "Wed"],
  ["thu", "Thu"],
  ["fri", "Fri"],
  ["sat", "Sat"],
  ["sun", "Sun"],
];

export function windowFields(legend, value, hint) {
  const on = h("input", { type: "checkbox", id: uid("win"), name: "windowOn", checked: Boolean(value) });
  const days = DAYS.map(([day, label]) => {
    const id = uid("day");
    return h(
      "span",
      { class: "day" },
      h("input", { type: "checkbox", id, name: "windowDays", value: day, checked: value ? value.days.includes(day) : day !== "sat" && day !== "sun" }),
      h("label", { for: id }, label),
    );
  });
  const startId = uid("start");
  const endId = uid("end");
  return h(
    "fieldset",
    { class: "window" },
    h("legend", {}, legend),
    hint ? h("p", { class: "hint" }, hint) : null,
    h("div", { class: "field check" }, on, h("label", { for: on.id }, "Call only within a window (each contact's local time)")),
    h("div", { class: "days", role: "group", "aria-label": "Days" }, days),
    h(
      "div",
      { class: "times" },
      h("label", { for: startId }, "From"),
      h("input", { id: startId, name: "windowStart", type: "time", value: value?.start || "08:00" }),
      h("label", { for: endId }, "until"),
      h("input", { id: endId, name: "windowEnd", type: "time", value: value?.end === "24:00" ? "23:59" : value?.end || "21:00" }),
    ),
  );
}

export function windowFrom(form) {
  if (!form.elements.windowOn.checked) return null;
  const days = [...form.querySelectorAll('input[name="windowDays"]:checked')].map((x) => x.value);
  return { days, start: form.elements.windowStart.value, end: form.elements.windowEnd.value };
}
