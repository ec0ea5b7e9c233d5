// Who is signed in: a bearer token kept for this tab only (sessionStorage), and the ways to
// get one: the local engine's development sign-in, a pasted token, or Cognito's hosted
// sign-in (authorization code with PKCE; the app client has no secret).

const KEY = "campaign-calling.token";
const PKCE = "campaign-calling.pkce";
const listeners = new Set();

function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

export const session = {
  token: () => sessionStorage.getItem(KEY),
  signedIn() {
    const token = this.token();
    if (!token) return false;
    const { exp } = claims(token);
    return !exp || exp * 1000 > Date.now();
  },
  who() {
    const c = claims(this.token() || "");
    return c["custom:clientId"] || c.sub || "";
  },
  set(token) {
    sessionStorage.setItem(KEY, token);
    listeners.forEach((fn) => fn());
  },
  clear() {
    sessionStorage.removeItem(KEY);
    listeners.forEach((fn) => fn());
  },
  expired() {
    this.clear();
  },
  onChange(fn) {
    listeners.add(fn);
  },
};

function random(bytes) {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...data)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function challenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function cognitoSignIn(cognito) {
  const verifier = random(48);
  const state = random(16);
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const url = new URL(`${cognito.domain.replace(/\/$/, "")}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: cognito.clientId,
    redirect_uri: cognito.redirectUri,
    scope: "openid email",
    state,
    code_challenge: await challenge(verifier),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

// Back from the hosted sign-in with ?code=...&state=...: the code becomes tokens.
export async function cognitoCallback(cognito) {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  if (!code) return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE) || "{}");
  sessionStorage.removeItem(PKCE);
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  if (!saved.verifier || saved.state !== params.get("state")) throw new Error("The sign-in could not be checked: try again.");
  const response = await fetch(`${cognito.domain.replace(/\/$/, "")}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: cognito.clientId,
      code,
      redirect_uri: cognito.redirectUri,
      code_verifier: saved.verifier,
    }),
  });
  if (!response.ok) throw new Error("The sign-in was refused: try again.");
  const tokens = await response.json();
  // The ID token: its audience is the app client, which the API's authorizer checks.
  session.set(tokens.id_token);
  return true;
}
