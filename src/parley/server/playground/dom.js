// Tiny DOM helpers. Text always goes in as text nodes, never as HTML: transcripts, tool
// arguments and API messages are untrusted.

export const $ = (id) => document.getElementById(id);

/** h("li", {class: "x", "data-role": "user"}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replace a list's "None yet." placeholder the first time something is added. */
export function appendItem(list, item) {
  list.querySelector(":scope > .empty")?.remove();
  list.append(item);
}

export function resetList(list, placeholder = "None yet.") {
  list.replaceChildren(h("li", {class: "muted empty"}, placeholder));
}

export const ms = (value) => (value === null || value === undefined ? "–" : `${Math.round(value)}`);

export function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toLocaleString(undefined, {dateStyle: "short", timeStyle: "medium"});
}

export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}
