import { api } from "../api.js";
import { field, formData, h } from "../dom.js";
import { notice } from "../notice.js";
import { windowFields, windowFrom } from "./window.js";

const numberOrNull = (value) => (value === "" || value === undefined ? null : Number(value));

export function settingsView() {
  const node = h("div", {}, h("p", {}, "Loading…"));
  api
    .get("/settings")
    .then(({ data }) => node.replaceChildren(settingsForm(data)))
    .catch((error) => notice(error.message));
  return { title: "Settings", node };
}

function settingsForm(settings) {
  const num = (name, min, max, value) =>
    h("input", { name, type: "number", min, max, step: 1, inputmode: "numeric", value: value ?? "" });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(form);
        const body = {
          maxConcurrentCalls: numberOrNull(data.maxConcurrentCalls),
          maxCallsPerSecond: numberOrNull(data.maxCallsPerSecond),
          minMinutesBetweenCallsToNumber: numberOrNull(data.minMinutesBetweenCallsToNumber),
          maxCallsPerNumberPerDay: numberOrNull(data.maxCallsPerNumberPerDay),
          allowPremiumRateNumbers: form.elements.allowPremiumRateNumbers.checked,
          callingWindow: windowFrom(form),
        };
        try {
          await api.put("/settings", body);
          notice("Settings saved.", "success");
        } catch (error) {
          notice(error.message);
        }
      },
    },
    h("h2", {}, "Calls in progress"),
    field("Calls at once (1–1000, empty: no cap)", num("maxConcurrentCalls", 1, 1000, settings.maxConcurrentCalls)),
    field("Calls started per second (1–100)", num("maxCallsPerSecond", 1, 100, settings.maxCallsPerSecond)),
    h("h2", {}, "Each number"),
    field(
      "Minutes between calls to one number",
      num("minMinutesBetweenCallsToNumber", 1, 10080, settings.minMinutesBetweenCallsToNumber),
    ),
    field("Calls to one number in any 24 hours", num("maxCallsPerNumberPerDay", 1, 50, settings.maxCallsPerNumberPerDay)),
    h(
      "div",
      { class: "field check" },
      h("input", {
        type: "checkbox",
        id: "allow-premium",
        name: "allowPremiumRateNumbers",
        checked: settings.allowPremiumRateNumbers,
      }),
      h("label", { for: "allow-premium" }, "Allow premium-rate and shared-cost numbers as contacts"),
    ),
    windowFields("Default calling window", settings.callingWindow, "Runs started without a window of their own use it."),
    h("button", { type: "submit" }, "Save settings"),
  );
  return form;
}
