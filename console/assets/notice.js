// One place for what the console tells the user: errors stay until the next screen or
// message (role="alert" reads them out); confirmations go after a few seconds.

let timer = null;
const el = () => document.getElementById("notice");

export function notice(text, kind = "error") {
  const box = el();
  box.textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(timer);
  if (kind !== "error") timer = setTimeout(() => (box.hidden = true), 6000);
}

export function clearNotice() {
  el().hidden = true;
}
