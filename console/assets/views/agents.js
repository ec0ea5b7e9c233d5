import { api } from "../api.js";
import { notice } from "../notice.js";
import { field, formData, h, row } from "../dom.js";
import { pagedTable } from "./paged.js";

export function agentsView() {
  const list = pagedTable({
    caption: "Your agents",
    headers: ["Name", "Provider", "Provider's agent id", "Caller id", ""],
    load: (nextToken) => api.get("/agents", { limit: 25, nextToken }),
    toRow: (a) =>
      row(
        a.name,
        a.provider,
        a.providerAgentId,
        a.callerId || "—",
        h(
          "button",
          {
            type: "button",
            class: "secondary danger",
            "aria-label": `Delete agent ${a.name}`,
            onclick: async () => {
              if (!window.confirm(`Delete agent “${a.name}”?`)) return;
              try {
                await api.del(`/agents/${encodeURIComponent(a._id)}`);
                notice(`Agent “${a.name}” deleted.`, "success");
                list.reload();
              } catch (error) {
                notice(error.message);
              }
            },
          },
          "Delete",
        ),
      ),
  });
  const provider = h(
    "select",
    { name: "provider" },
    ["generic", "twilio", "vapi", "retell"].map((p) => h("option", { value: p }, p)),
  );
  const form = h(
    "form",
    {
      class: "card",
      "aria-labelledby": "new-agent",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(form);
        const body = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ""));
        try {
          const created = (await api.post("/agents", body)).data;
          notice(`Agent “${created.name}” created.`, "success");
          form.reset();
          list.reload();
        } catch (error) {
          notice(error.message);
        }
      },
    },
    h("h2", { id: "new-agent" }, "New agent"),
    field("Name", h("input", { name: "name", required: true, maxlength: 200 })),
    field("Provider", provider),
    field("Provider's agent id", h("input", { name: "providerAgentId", required: true, maxlength: 128 })),
    field("Caller id (optional for generic)", h("input", { name: "callerId", type: "tel", placeholder: "+12025550143" })),
    field("TwiML URL (twilio only)", h("input", { name: "twimlUrl", type: "url" })),
    field("Phone number id (vapi only)", h("input", { name: "phoneNumberId" })),
    h("button", { type: "submit" }, "Create agent"),
  );
  return { title: "Agents", node: h("div", {}, list.node, form) };
}
