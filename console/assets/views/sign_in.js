import { ApiError } from "../api.js";
import { field, formData, h } from "../dom.js";

export function signInView(config, { signIn, cognito }) {
  const mode = config.signIn?.mode || "token";
  const error = h("p", { class: "error", role: "alert" });
  const wrap = (title, ...body) => h("section", { class: "card sign-in" }, h("h1", {}, title), ...body, error);

  if (mode === "cognito") {
    return wrap(
      "Sign in",
      h("p", {}, "You sign in on your organisation's sign-in page."),
      h("button", { type: "button", onclick: () => cognito(config.signIn.cognito) }, "Sign in"),
    );
  }
  if (mode === "local") {
    const input = h("input", { name: "clientId", required: true, autocomplete: "username", value: "demo-client" });
    const form = h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const response = await fetch("local/sign-in", {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ clientId: formData(form).clientId }),
            });
            const answer = await response.json();
            if (!response.ok) throw new ApiError(response.status, answer.message);
            signIn(answer.data.token);
          } catch (e) {
            error.textContent = e.message || "The sign-in failed.";
          }
        },
      },
      field("Client id", input, "The local engine signs a token for any client id: each is a tenant of its own."),
      h("button", { type: "submit" }, "Sign in"),
    );
    return wrap("Sign in (local engine)", form);
  }
  const area = h("textarea", { name: "token", required: true, rows: 4, spellcheck: "false" });
  const form = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        signIn(formData(form).token);
      },
    },
    field("Access token", area, "A token your identity provider issued for this API (a JWT)."),
    h("button", { type: "submit" }, "Sign in"),
  );
  return wrap("Sign in", form);
}
