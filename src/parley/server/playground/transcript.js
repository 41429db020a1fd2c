// What a call shows: the live transcript, tool calls, citations and per-turn latency.
// Also used to render a past call's stored messages (history.js).

import {$, appendItem, h, ms, pretty, resetList} from "./dom.js";

const STAGES = [
  ["endpoint_ms", "endpoint"],
  ["stt_ms", "stt"],
  ["llm_ttft_ms", "llm"],
  ["tts_ttfb_ms", "tts"],
];

/** One utterance. An interrupted agent line keeps what was heard solid and strikes the rest. */
function renderLine(node, line) {
  node.dataset.role = line.role;
  node.dataset.turn = line.turn;
  node.dataset.final = String(line.final);
  node.dataset.interrupted = String(Boolean(line.interrupted));
  node.className = `line ${line.role}${line.final ? "" : " partial"}${line.interrupted ? " interrupted" : ""}`;
  const who = h("span", {class: "who"}, line.role === "user" ? "You" : "Agent");
  const body = h("span", {class: "text"});
  if (line.interrupted) {
    const heard = line.final ? line.text : "";
    const said = line.said || "";
    // the agent's partials say what it meant to say; its final is what the caller heard
    const unheard = said.startsWith(heard) ? said.slice(heard.length) : "";
    body.append(h("span", {class: "heard"}, heard));
    if (unheard.trim()) body.append(h("del", {class: "unheard", title: "not heard"}, unheard));
    body.append(" ", h("span", {class: "badge"}, "interrupted"));
  } else {
    body.append(line.text);
  }
  node.replaceChildren(who, body);
}

export class LiveTranscript {
  constructor({onToolResult}) {
    this.onToolResult = onToolResult;
    this.list = $("transcript");
    this.tools = $("tool-calls");
    this.citations = $("citations");
    this.latency = $("latency");
    this.clear();
  }

  clear() {
    this.lines = new Map(); // "role:turn" → {line, node}
    this.calls = new Map();
    this.list.replaceChildren();
    resetList(this.tools);
    resetList(this.citations);
    resetList(this.latency);
  }

  transcript({role, text, final, turn}) {
    const key = `${role}:${turn}`;
    let entry = this.lines.get(key);
    if (!entry) {
      entry = {line: {role, turn, text: "", final: false, said: ""}, node: h("li")};
      this.lines.set(key, entry);
      this.list.append(entry.node);
    }
    const line = entry.line;
    line.text = text; // always the whole utterance so far: replace, never append
    line.final = final;
    if (role === "agent" && (!final || !line.said)) line.said = text;
    renderLine(entry.node, line);
    entry.node.scrollIntoView({block: "nearest"});
  }

  /** The agent was cut off: the latest agent turn is the one. Its final (what was heard)
   * may come just before or just after this message. */
  interrupted() {
    const agent = [...this.lines.values()].filter((e) => e.line.role === "agent").at(-1);
    if (!agent) return;
    agent.line.interrupted = true;
    renderLine(agent.node, agent.line);
  }

  toolCall(call) {
    let entry = this.calls.get(call.id);
    if (!entry) {
      entry = {node: h("li", {class: "tool", "data-id": call.id})};
      this.calls.set(call.id, entry);
      appendItem(this.tools, entry.node);
    }
    const status = h("span", {class: `tool-status ${call.status}`, "data-testid": "tool-status"}, call.status);
    const parts = [
      h("div", {class: "tool-head"}, h("strong", {}, call.name), " ", status,
        call.client_side ? h("span", {class: "muted"}, " client-side") : null),
      h("pre", {class: "code", "aria-label": "arguments"}, pretty(call.arguments)),
    ];
    if (call.client_side && call.status === "requested") parts.push(this.answerForm(call));
    entry.node.replaceChildren(...parts);
  }

  answerForm(call) {
    const id = `result-${call.id}`;
    const field = h("textarea", {id, rows: 2, class: "code", spellcheck: "false"}, '{"ok": true}');
    const isError = h("input", {type: "checkbox", id: `${id}-error`});
    const form = h("form", {class: "answer"},
      h("label", {for: id}, `Answer ${call.name}`), field,
      h("label", {class: "check"}, isError, " failed"),
      h("button", {type: "submit"}, "Send result"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let result = field.value;
      try {
        result = JSON.parse(field.value);
      } catch {
        // not JSON: the model gets the text as it is
      }
      this.onToolResult({id: call.id, result, is_error: isError.checked});
      form.replaceChildren(h("p", {class: "muted"}, "Sent."));
    });
    return form;
  }

  citation(cite) {
    appendItem(this.citations, h("li", {},
      h("strong", {}, cite.title || cite.source_id), " ",
      h("span", {class: "muted"}, `#${cite.position}`),
      h("blockquote", {}, cite.snippet)));
  }

  metrics(figures) {
    appendItem(this.latency, latencyRow(figures));
  }

  /** Speech over a paused agent, resolved: it went on (a backchannel, a noise) or stopped. */
  bargeIn(turn, {outcome, reason, paused_ms: paused, heard}) {
    const said = heard ? ` "${heard}"` : "";
    const what = outcome === "resumed" ? "the agent went on" : "the agent stopped";
    appendItem(this.latency, h("li", {class: `barge-in ${outcome}`, "data-turn": turn},
      `turn ${turn}: speech over the agent${said} (${reason}): ${what} after ${ms(paused)} ms`));
  }
}

/** A stacked bar: each stage's share of the turn, with the numbers written out. */
export function latencyRow(figures) {
  const total = figures.total_ms;
  const scale = Math.max(total || 0, STAGES.reduce((sum, [key]) => sum + (figures[key] || 0), 0), 1);
  const bar = h("div", {class: "bar", role: "img",
    "aria-label": `turn ${figures.turn}: total ${ms(total)} ms`});
  for (const [key, name] of STAGES) {
    if (!figures[key]) continue;
    const piece = h("span", {class: `piece ${name}`, title: `${name} ${ms(figures[key])} ms`});
    piece.style.width = `${(100 * figures[key]) / scale}%`; // CSSOM: allowed by the CSP
    bar.append(piece);
  }
  const staged = STAGES.reduce((sum, [key]) => sum + (figures[key] || 0), 0);
  if (total && total > staged) {
    // queueing, the first sentence's wait, sending: what the stages do not account for
    const rest = h("span", {class: "piece other", title: `other ${ms(total - staged)} ms`});
    rest.style.width = `${(100 * (total - staged)) / scale}%`;
    bar.append(rest);
  }
  const numbers = STAGES.map(([key, name]) => `${name} ${ms(figures[key])}`).join(" · ");
  return h("li", {class: "turn-latency", "data-turn": figures.turn},
    h("div", {class: "latency-head"}, h("strong", {}, `Turn ${figures.turn}`),
      ` total ${ms(total)} ms`, figures.stt_fallback ? " (fallback recogniser)" : ""),
    bar, h("div", {class: "muted small"}, `${numbers} ms`));
}

export {renderLine};
