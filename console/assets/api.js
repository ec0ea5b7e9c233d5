// The API, with the signed-in token: every answer is the contract's envelope
// ({success, message, data}); a failure throws ApiError with the API's message.

import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let config = null;

export async function loadConfig() {
  if (config) return config;
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error("config.json could not be read");
  config = await response.json();
  return config;
}

export function apiBase() {
  return config.apiBaseUrl.replace(/\/$/, "");
}

async function request(method, path, { json, body, contentType, raw, headers: extra } = {}) {
  const headers = { Authorization: `Bearer ${session.token()}`, ...(extra || {}) };
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(apiBase() + path, { method, headers, body: payload });
  } catch (error) {
    throw new ApiError(0, "The API could not be reached. Check your connection and try again.");
  }
  if (response.status === 401) {
    session.expired();
    throw new ApiError(401, "Your sign-in has expired: sign in again.");
  }
  if (raw) {
    if (!response.ok) throw new ApiError(response.status, await messageOf(response));
    return response;
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || answer.success === false) {
    throw new ApiError(response.status, answer.message || `The API answered ${response.status}.`);
  }
  return answer;
}

async function messageOf(response) {
  const answer = await response.json().catch(() => ({}));
  return answer.message || `The API answered ${response.status}.`;
}

const q = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
};

export const api = {
  get: (path, params = {}) => request("GET", path + q(params)),
  post: (path, json) => request("POST", path, { json }),
  put: (path, json) => request("PUT", path, { json }),
  patch: (path, json) => request("PATCH", path, { json }),
  del: (path) => request("DELETE", path),
  postCsv: (path, text) => request("POST", path, { body: text, contentType: "text/csv" }),
  raw: (path, params = {}) => request("GET", path + q(params), { raw: true }),
};

export const campaignPath = (id, rest = "") => `/campaigns/${encodeURIComponent(id)}${rest}`;
