// The console: sign-in, then one screen per hash route. Screens are plain functions that
// build their part of the page and return a cleanup (polling stops when you leave).

import { loadConfig } from "./api.js";
import { h } from "./dom.js";
import { clearNotice, notice } from "./notice.js";
import { cognitoCallback, cognitoSignIn, session } from "./session.js";
import { agentsView } from "./views/agents.js";
import { campaignView } from "./views/campaign.js";
import { campaignsView } from "./views/campaigns.js";
import { dncView } from "./views/dnc.js";
import { settingsView } from "./views/settings.js";
import { signInView } from "./views/sign_in.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let cleanup = null;

const routes = [
  [/^#\/campaigns\/([^/]+)$/, (m) => campaignView(decodeURIComponent(m[1]))],
  [/^#\/campaigns$/, () => campaignsView()],
  [/^#\/agents$/, () => agentsView()],
  [/^#\/dnc$/, () => dncView()],
  [/^#\/settings$/, () => settingsView()],
];

async function render() {
  if (cleanup) cleanup();
  cleanup = null;
  clearNotice();
  const config = await loadConfig();
  nav.hidden = !session.signedIn();
  if (!session.signedIn()) {
    main.replaceChildren(signInView(config, { signIn: (token) => session.set(token), cognito: cognitoSignIn }));
    document.title = "Sign in · Campaign calling";
    return;
  }
  const hash = window.location.hash || "#/campaigns";
  const match = routes.map(([re, view]) => [hash.match(re), view]).find(([m]) => m);
  const screen = match ? match[1](match[0]) : { title: "Not found", node: h("p", {}, "No such page.") };
  document.title = `${screen.title} · Campaign calling`;
  main.replaceChildren(h("h1", {}, screen.title), screen.node);
  cleanup = screen.cleanup || null;
  for (const link of nav.querySelectorAll("a")) {
    if (hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.focus({ preventScroll: true });
}

async function start() {
  try {
    const config = await loadConfig();
    if (config.signIn?.mode === "cognito") await cognitoCallback(config.signIn.cognito);
  } catch (error) {
    notice(error.message);
  }
  document.getElementById("sign-out").addEventListener("click", () => {
    session.clear();
    window.location.hash = "#/campaigns";
  });
  session.onChange(render);
  window.addEventListener("hashchange", render);
  await render();
}

start();
