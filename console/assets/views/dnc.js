import { api } from "../api.js";
import { field, formData, h, row, when } from "../dom.js";
import { notice } from "../notice.js";
import { pagedTable } from "./paged.js";

export function dncView() {
  const list = pagedTable({
    caption: "Numbers never called",
    headers: ["Number", "Listed", "Why", "Source", ""],
    load: (nextToken) => api.get("/dnc", { limit: 50, nextToken }),
    toRow: (entry) =>
      row(
        entry.phone,
        when(entry.listedAt),
        entry.reason || "—",
        entry.source,
        h(
          "button",
          {
            type: "button",
            class: "secondary danger",
            "aria-label": `Remove ${entry.phone} from the list`,
            onclick: async () => {
              try {
                await api.del(`/dnc/${encodeURIComponent(entry.phone)}`);
                notice(`${entry.phone} may be called again.`, "success");
                list.reload();
              } catch (error) {
                notice(error.message);
              }
            },
          },
          "Remove",
        ),
      ),
  });
  const form = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "add-dnc",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(form);
        const phones = data.phones.split(/[,;\n]+/).map((x) => x.trim()).filter(Boolean);
        try {
          const answer = await api.post("/dnc", { phones, ...(data.reason ? { reason: data.reason } : {}) });
          notice(`${phones.length} number(s) listed: they are never called.`, "success");
          form.reset();
          list.reload();
          return answer;
        } catch (error) {
          notice(error.message);
        }
      },
    },
    h("h2", { id: "add-dnc" }, "Add numbers"),
    field(
      "Numbers",
      h("textarea", { name: "phones", required: true, rows: 3, placeholder: "+1 202 555 0143, +44 20 7183 8750" }),
      "International format (+ and country code), separated by commas or lines; up to 1,000.",
    ),
    field("Why (optional)", h("input", { name: "reason", maxlength: 200 })),
    h("button", { type: "submit" }, "Add to the list"),
  );
  return { title: "Do not call", node: h("div", {}, form, list.node) };
}
