// One campaign: its run (start form, pause, resume, stop, live progress polled every 2 s
// like the contract's component), its contacts (one by one or from a CSV file), its call
// logs (filters, CSV download) and its run history.

import { api, campaignPath } from "../api.js";
import { field, formData, h, row, table, when } from "../dom.js";
import { notice } from "../notice.js";
import { statusOf } from "./campaigns.js";
import { outcomesChart } from "./chart.js";
import { pagedTable } from "./paged.js";
import { windowFields, windowFrom } from "./window.js";

const POLL_MS = 2000;
const LOG_STATUSES = ["queued", "ringing", "in-progress", "completed", "voicemail", "busy", "no-answer", "failed", "canceled", "unknown", "skipped"];

export function campaignView(id) {
  const node = h("div", { class: "campaign" }, h("p", {}, "Loading…"));
  const state = { timer: null, alive: true, campaign: null };
  const screen = { title: "Campaign", node, cleanup: () => stop(state) };
  load(id, state, node);
  return screen;
}

function stop(state) {
  state.alive = false;
  clearTimeout(state.timer);
}

async function load(id, state, node) {
  let campaign;
  try {
    campaign = (await api.get(campaignPath(id))).data;
  } catch (error) {
    node.replaceChildren(h("p", {}, error.message));
    return;
  }
  state.campaign = campaign;
  document.querySelector("main h1").textContent = campaign.name;
  document.title = `${campaign.name} · Campaign calling`;
  const run = runSection(id, state);
  const logs = callLogsSection(id);
  const history = historySection(id);
  const contacts = contactsSection(id, () => run.refresh());
  node.replaceChildren(run.node, contacts.node, logs.node, history.node, removeSection(id, campaign));
  run.onChange = () => {
    logs.reload();
    history.reload();
  };
}

// -- the run ----------------------------------------------------------------------------

function runSection(id, state) {
  const statusLine = h("p", { class: "run-status", "aria-live": "polite" });
  const bar = h("progress", { max: 100, value: 0, "aria-label": "Calls made" });
  const percent = h("span", { class: "percent" }, "0%");
  const counters = h("dl", { class: "counters" });
  const chart = h("div", { class: "chart" });
  const buttons = h("div", { class: "actions" });
  const startForm = startFormFor(id, () => refresh());
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "run-title" },
    h("h2", { id: "run-title" }, "Calling"),
    statusLine,
    h("div", { class: "bar" }, bar, percent),
    buttons,
    counters,
    chart,
    startForm,
  );
  const self = { node: section, onChange: null, refresh };
  let lastStatus = null;

  const action = (label, path, confirmText) =>
    h(
      "button",
      {
        type: "button",
        class: label === "Stop" ? "danger" : "",
        onclick: async () => {
          if (confirmText && !window.confirm(confirmText)) return;
          try {
            const answer = await api.post(campaignPath(id, path));
            notice(answer.message || `${label}: done.`, "success");
          } catch (error) {
            notice(error.message);
          }
          refresh();
        },
      },
      label,
    );

  // Polled every 2 s while the run goes on, and after its end until its last calls' final
  // statuses are in (nothing pending); an action (start, pause...) polls again at once.
  async function refresh() {
    clearTimeout(state.timer);
    let again = true;
    try {
      const status = (await api.get(campaignPath(id, "/calling-status"))).data;
      render(status);
      const p = status.progress;
      again = Boolean(p && (p.status === "running" || p.status === "paused" || p.outcomes.pending > 0));
    } catch (error) {
      notice(error.message);
    }
    if (state.alive && again) state.timer = setTimeout(refresh, POLL_MS);
  }

  function render(status) {
    const p = status.progress;
    const runStatus = p ? p.status : statusOf(state.campaign);
    const total = p ? p.totalContacts : status.totalContacts;
    const done = p ? (p.retry ? p.contactsDone : p.completedCalls) : 0;
    const pct = p ? (p.status === "completed" ? 100 : total ? Math.min(100, Math.round((100 * done) / total)) : 0) : 0;
    bar.value = pct;
    bar.setAttribute("aria-valuetext", `${pct}% (${done} of ${total} contacts)`);
    percent.textContent = `${pct}%`;
    let line = p ? `Run ${p.runId}: ${runStatus}` : "No run yet.";
    if (p?.waitingUntil) line += ` — waiting until ${when(p.waitingUntil)}`;
    if (p?.reason) line += ` (${p.reason})`;
    statusLine.textContent = line;
    statusLine.dataset.status = runStatus;
    const running = runStatus === "running";
    const paused = runStatus === "paused";
    buttons.replaceChildren(
      ...(running ? [action("Pause", "/pause-calling")] : []),
      ...(paused || runStatus === "failed" ? [action("Resume", "/resume-calling")] : []),
      ...(running || paused ? [action("Stop", "/stop-calling", "Stop this run? It cannot be resumed.")] : []),
    );
    startForm.hidden = running || paused;
    counters.replaceChildren(
      ...(p
        ? [
            ["Contacts", total],
            ["Calls made", p.completedCalls],
            ["Successful", p.successfulCalls],
            ["Failed", p.failedCalls],
            ["Waiting (window or limits)", p.contactsWaiting ?? 0],
            ["Retries pending", p.retriesPending ?? 0],
            ["Started", when(p.startTime)],
            ["Last call", when(p.lastCallTime)],
          ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])
        : []),
    );
    chart.replaceChildren(p ? outcomesChart(p.outcomes) : "");
    if (lastStatus !== null && lastStatus !== runStatus && self.onChange) self.onChange();
    lastStatus = runStatus;
  }

  refresh();
  return self;
}

function startFormFor(id, after) {
  const agents = h("select", { name: "agentId", required: true }, h("option", { value: "" }, "Loading agents…"));
  api
    .get("/agents", { limit: 100 })
    .then(({ data }) =>
      agents.replaceChildren(
        h("option", { value: "" }, data.items.length ? "Choose an agent" : "No agent yet: create one first"),
        ...data.items.map((a) => h("option", { value: a._id }, `${a.name} (${a.provider})`)),
      ),
    )
    .catch((error) => notice(error.message));
  const num = (name, attrs) => h("input", { name, type: "number", step: 1, inputmode: "numeric", ...attrs });
  const retryOn = ["no-answer", "busy", "voicemail", "failed"].map((s) => {
    const idFor = `retry-${s}`;
    return h(
      "span",
      { class: "day" },
      h("input", { type: "checkbox", id: idFor, name: "retryOn", value: s, checked: s === "no-answer" || s === "busy" }),
      h("label", { for: idFor }, s),
    );
  });
  const form = h(
    "form",
    {
      class: "start",
      "aria-labelledby": "start-title",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(form);
        const body = { agentId: data.agentId, delayBetweenCalls: Number(data.delayBetweenCalls) };
        if (data.maxConcurrentCalls) body.maxConcurrentCalls = Number(data.maxConcurrentCalls);
        if (Number(data.maxAttempts) > 1) {
          body.retry = {
            maxAttempts: Number(data.maxAttempts),
            retryDelaySeconds: Number(data.retryDelaySeconds),
            retryOn: [...form.querySelectorAll('input[name="retryOn"]:checked')].map((x) => x.value),
          };
        }
        const window = windowFrom(form);
        if (window) body.callingWindow = window;
        try {
          const answer = await api.post(campaignPath(id, "/start-calling"), body);
          notice(answer.message || "Calling started.", "success");
        } catch (error) {
          notice(error.message);
        }
        after();
      },
    },
    h("h3", { id: "start-title" }, "Start calling"),
    field("Agent", agents),
    field("Delay between calls (ms)", num("delayBetweenCalls", { min: 0, max: 3600000, value: 2000, required: true })),
    field("Calls at once (optional, 1–100)", num("maxConcurrentCalls", { min: 1, max: 100 })),
    h(
      "fieldset",
      {},
      h("legend", {}, "Retries"),
      field("Attempts per contact (1: no retry)", num("maxAttempts", { min: 1, max: 10, value: 1 })),
      field("Seconds before a retry", num("retryDelaySeconds", { min: 60, value: 3600 })),
      h("div", { class: "days", role: "group", "aria-label": "Retry when the call ended" }, retryOn),
    ),
    windowFields("Calling window", null, "Absent: your default window from the settings, if any."),
    h("button", { type: "submit" }, "Start calling"),
  );
  return form;
}

// -- contacts ---------------------------------------------------------------------------

function contactsSection(id, changed) {
  const list = pagedTable({
    caption: "Contacts",
    headers: ["Name", "Phone", "Time zone", "Added", ""],
    load: (nextToken) => api.get(campaignPath(id, "/contacts"), { limit: 50, nextToken }),
    toRow: (c) =>
      row(
        c.name,
        c.phone,
        c.timezone || "—",
        when(c.createdAt),
        h(
          "button",
          {
            type: "button",
            class: "secondary danger",
            "aria-label": `Remove contact ${c.name}`,
            onclick: async () => {
              if (!window.confirm(`Remove ${c.name} from the campaign? Its call logs are kept.`)) return;
              try {
                await api.del(campaignPath(id, `/contacts/${encodeURIComponent(c._id)}`));
                notice(`${c.name} removed.`, "success");
                list.reload();
                changed();
              } catch (error) {
                notice(error.message);
              }
            },
          },
          "Remove",
        ),
      ),
  });
  const report = h("div", { class: "import-report", "aria-live": "polite" });
  const add = h(
    "form",
    {
      class: "inline",
      "aria-label": "Add a contact",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = formData(add);
        const contact = { name: data.name, phone: data.phone, ...(data.timezone ? { timezone: data.timezone } : {}) };
        try {
          const answer = (await api.post(campaignPath(id, "/contacts"), { contacts: [contact] })).data;
          notice(answer.duplicateCount ? "That number is in the campaign already." : "Contact added.", answer.duplicateCount ? "error" : "success");
          add.reset();
          list.reload();
          changed();
        } catch (error) {
          notice(error.message);
        }
      },
    },
    field("Name", h("input", { name: "name", required: true, maxlength: 200 })),
    field("Phone", h("input", { name: "phone", type: "tel", required: true, placeholder: "+12025550143" })),
    field("Time zone (optional)", h("input", { name: "timezone", placeholder: "America/Chicago" })),
    h("button", { type: "submit" }, "Add contact"),
  );
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const upload = h(
    "form",
    {
      class: "inline",
      "aria-label": "Import contacts from a CSV file",
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        try {
          const answer = (await api.postCsv(campaignPath(id, "/contacts.csv"), await chosen.text())).data;
          report.replaceChildren(importReport(answer));
          list.reload();
          changed();
        } catch (error) {
          report.replaceChildren();
          notice(error.message);
        }
      },
    },
    field("CSV file", file, "Columns name and phone, optionally timezone; other columns are kept with each contact."),
    h("button", { type: "submit" }, "Import"),
  );
  const node = h(
    "section",
    { class: "card", "aria-labelledby": "contacts-title" },
    h("h2", { id: "contacts-title" }, "Contacts"),
    upload,
    report,
    add,
    list.node,
  );
  return { node };
}

function importReport(answer) {
  const lines = [
    h("p", { class: "imported" }, `${answer.added} of ${answer.rows} rows added; ${answer.duplicateCount} duplicate(s), ${answer.rejectedCount} rejected.`),
  ];
  if (answer.rejected.length) {
    lines.push(
      table(
        "Rows not added",
        ["Line", "Why"],
        answer.rejected.map((r) => row(String(r.line), r.reason)),
      ),
    );
  }
  if (answer.duplicates.length) {
    lines.push(h("p", {}, `Duplicates left out: ${answer.duplicates.map((d) => `line ${d.line}`).join(", ")}.`));
  }
  return h("div", {}, lines);
}

// -- call logs --------------------------------------------------------------------------

function callLogsSection(id) {
  let filters = {};
  const holder = h("div");
  let list = null;
  const show = () => {
    list = pagedTable({
      caption: "Call logs, newest first",
      headers: ["Started", "Contact", "Phone", "Status", "Outcome", "Attempt", "Seconds"],
      load: (nextToken) => api.get(campaignPath(id, "/call-logs"), { limit: 25, nextToken, ...filters }),
      toRow: (log) =>
        row(
          when(log.startedAt),
          log.contactName || log.contactId,
          log.phone || "—",
          log.status || "—",
          log.outcome,
          String(log.attempt ?? 1),
          String(Math.round((log.durationMs || 0) / 1000)),
        ),
    });
    holder.replaceChildren(list.node);
  };
  const status = h("select", { name: "status" }, h("option", { value: "" }, "Any"), LOG_STATUSES.map((s) => h("option", { value: s }, s)));
  const form = h(
    "form",
    {
      class: "inline filters",
      "aria-label": "Filter call logs",
      onsubmit: (event) => {
        event.preventDefault();
        const data = formData(form);
        filters = {
          runId: data.runId || undefined,
          status: data.status || undefined,
          from: data.from ? new Date(data.from).toISOString() : undefined,
          to: data.to ? new Date(data.to).toISOString() : undefined,
        };
        show();
      },
    },
    field("Run id", h("input", { name: "runId", placeholder: "run-…" })),
    field("Status", status),
    field("From", h("input", { name: "from", type: "datetime-local" })),
    field("To", h("input", { name: "to", type: "datetime-local" })),
    h("button", { type: "submit", class: "secondary" }, "Filter"),
    h("button", { type: "button", onclick: () => downloadCsv(id, filters) }, "Download CSV"),
  );
  show();
  const node = h("section", { class: "card", "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Call logs"), form, holder);
  return { node, reload: () => show() };
}

async function downloadCsv(id, filters) {
  // The export comes a page at a time (X-Next-Token); the pages in order are one file.
  const parts = [];
  let nextToken;
  try {
    do {
      const response = await api.raw(campaignPath(id, "/call-logs.csv"), { ...filters, nextToken });
      parts.push(await response.text());
      nextToken = response.headers.get("X-Next-Token") || undefined;
    } while (nextToken);
  } catch (error) {
    notice(error.message);
    return;
  }
  const url = URL.createObjectURL(new Blob(parts, { type: "text/csv" }));
  const link = h("a", { href: url, download: `call-logs-${id}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// -- removing the campaign --------------------------------------------------------------

function removeSection(id, campaign) {
  const button = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (!window.confirm(`Delete “${campaign.name}” and its contacts? Its call logs are kept.`)) return;
        try {
          await api.del(campaignPath(id));
          notice(`Campaign “${campaign.name}” deleted.`, "success");
          window.location.hash = "#/campaigns";
        } catch (error) {
          notice(error.message); // 409 while a run uses it: stop it first
        }
      },
    },
    "Delete campaign",
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "remove-title" },
    h("h2", { id: "remove-title" }, "Delete"),
    h("p", { class: "hint" }, "Deletes the campaign and its contacts; its call logs stay readable. Not while a run uses it."),
    button,
  );
}

// -- run history ------------------------------------------------------------------------

function historySection(id) {
  const list = pagedTable({
    caption: "Runs, newest first",
    headers: ["Run", "Status", "Started", "Ended", "Calls", "Why it ended"],
    load: (nextToken) => api.get(campaignPath(id, "/runs"), { limit: 10, nextToken }),
    toRow: (r) => row(r.runId, r.status, when(r.startTime), when(r.endTime), `${r.completedCalls ?? 0} / ${r.totalContacts ?? "?"}`, r.reason || "—"),
  });
  const node = h("section", { class: "card", "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title" }, "Run history"), list.node);
  return { node, reload: () => list.reload() };
}
