import { api } from "../api.js";
import { notice } from "../notice.js";
import { field, formData, h, row, when } from "../dom.js";
import { pagedTable } from "./paged.js";

export function statusOf(campaign) {
  if (campaign.isRunning) return "running";
  return campaign.lastRunStatus || "not started";
}

export function campaignsView() {
  const list = pagedTable({
    caption: "Your campaigns",
    headers: ["Name", "Contacts", "Status", "Created"],
    load: (nextToken) => api.get("/campaigns", { limit: 25, nextToken }),
    toRow: (c) =>
      row(
        h("a", { href: `#/campaigns/${encodeURIComponent(c._id)}` }, c.name),
        String(c.totalContacts),
        h("span", { class: `status ${statusOf(c)}` }, statusOf(c)),
        when(c.createdAt),
      ),
  });
  const form = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "new-campaign",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(form);
        try {
          const body = { name: data.name, ...(data.timezone ? { timezone: data.timezone } : {}) };
          const created = (await api.post("/campaigns", body)).data;
          notice(`Campaign “${created.name}” created.`, "success");
          window.location.hash = `#/campaigns/${encodeURIComponent(created._id)}`;
        } catch (error) {
          notice(error.message);
        }
      },
    },
    h("h2", { id: "new-campaign" }, "New campaign"),
    field("Name", h("input", { name: "name", required: true, maxlength: 200 })),
    field(
      "Time zone (optional)",
      h("input", { name: "timezone", placeholder: "America/New_York" }),
      "For contacts whose own and whose number's time zone are not known (calling windows).",
    ),
    h("button", { type: "submit" }, "Create campaign"),
  );
  return { title: "Campaigns", node: h("div", {}, list.node, form) };
}
