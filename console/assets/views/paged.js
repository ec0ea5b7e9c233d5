// A table filled a page at a time from a list route ({items, nextToken}), with a button for
// the next page while there is one.

import { notice } from "../notice.js";
import { h, table } from "../dom.js";

export function pagedTable({ caption, headers, load, toRow }) {
  const holder = h("div", { class: "paged" });
  let token = null;
  let rows = [];
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");

  async function fetchPage(reset) {
    if (reset) {
      token = null;
      rows = [];
    }
    more.disabled = true;
    try {
      const { items, nextToken } = (await load(token)).data;
      rows = rows.concat(items.map(toRow));
      token = nextToken;
      holder.replaceChildren(table(caption, headers, rows), more);
      more.hidden = !token;
    } catch (error) {
      notice(error.message);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => fetchPage(false));
  fetchPage(true);
  return { node: holder, reload: () => fetchPage(true) };
}
