// Past calls: the sessions list, one call's stored transcript (with timings and tool
// calls), and its recording. The recording needs the Authorization header, which an
// <audio src> cannot send, so it is fetched into a blob URL.

import {api, explain, request} from "./api.js";
import {$, h, pretty, when} from "./dom.js";
import {latencyRow} from "./transcript.js";

export class HistoryPanel {
  constructor() {
    this.names = new Map();
    this.blobUrl = null;
    $("history-refresh").addEventListener("click", () => this.load());
  }

  setAgents(agents) {
    this.names = new Map(agents.map((a) => [a.id, a.name]));
  }

  async load() {
    $("history-error").textContent = "";
    let page;
    try {
      page = await api("/v1/sessions?limit=50");
    } catch (exc) {
      $("history-error").textContent = `Could not list calls: ${explain(exc)}`;
      return;
    }
    const rows = page.data.map((session) => h("tr", {"data-session": session.session_id},
      h("td", {}, when(session.created_at)),
      h("td", {}, this.names.get(session.agent_id) ?? session.agent_id),
      h("td", {}, session.status),
      h("td", {}, session.end_reason ?? "–"),
      h("td", {}, h("button", {type: "button", class: "quiet",
        "aria-label": `Open the call of ${when(session.created_at)}`,
        onclick: () => this.open(session)}, "Open"))));
    if (!rows.length) rows.push(h("tr", {}, h("td", {colspan: 5, class: "muted"}, "No calls yet.")));
    $("sessions").tBodies[0].replaceChildren(...rows);
  }

  async open(session) {
    const detail = $("session-detail");
    detail.hidden = false;
    $("session-title").textContent =
      `${this.names.get(session.agent_id) ?? session.agent_id}, ${when(session.created_at)} (${session.session_id})`;
    const list = $("session-messages");
    list.replaceChildren(h("li", {class: "muted"}, "Loading…"));
    detail.focus();
    const [messages] = await Promise.all([
      api(`/v1/sessions/${encodeURIComponent(session.session_id)}/messages`).catch((exc) => exc),
      this.recording(session),
    ]);
    if (messages instanceof Error) {
      list.replaceChildren(h("li", {class: "error"}, `Could not read the transcript: ${explain(messages)}`));
      return;
    }
    list.replaceChildren(...messages.data.map(renderMessage));
    if (!messages.data.length) list.append(h("li", {class: "muted"}, "Nothing was said."));
  }

  async recording(session) {
    const box = $("recording");
    const sessionId = session.session_id;
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.blobUrl = null;
    if (!session.recorded) {
      // not asked for: a request would only fetch the API's 404 (a console error)
      box.replaceChildren(h("span", {class: "muted"}, "No recording: recording was not enabled for this call."));
      return;
    }
    box.replaceChildren(h("span", {class: "muted"}, "Recording: loading…"));
    try {
      const response = await request(`/v1/sessions/${encodeURIComponent(sessionId)}/recording`);
      this.blobUrl = URL.createObjectURL(await response.blob());
      box.replaceChildren(
        h("audio", {controls: true, src: this.blobUrl, preload: "metadata",
          "aria-label": "Recording (caller left, agent right)"}),
        h("a", {href: this.blobUrl, download: `${sessionId}.wav`}, "Download recording"));
    } catch (exc) {
      // the API says why there is none: not enabled, not written yet, missing
      box.replaceChildren(h("span", {class: "muted"}, `No recording: ${explain(exc)}`));
    }
  }
}

function renderMessage(message) {
  const time = h("time", {datetime: message.created_at, class: "muted small"}, when(message.created_at));
  if (message.role === "tool_call" && message.tool) {
    const tool = message.tool;
    return h("li", {class: "line tool-line", "data-role": "tool_call"},
      h("span", {class: "who"}, "Tool"),
      h("div", {class: "text"},
        h("strong", {}, tool.name), ` ${tool.status}${tool.client_side ? " (client-side)" : ""} `, time,
        h("pre", {class: "code"}, `arguments: ${pretty(tool.arguments)}`),
        tool.result !== null && tool.result !== undefined
          ? h("pre", {class: "code"}, `result: ${pretty(tool.result)}`) : null));
  }
  const classes = `line ${message.role}${message.interrupted ? " interrupted" : ""}`;
  return h("li", {class: classes, "data-role": message.role, "data-turn": message.turn,
    "data-interrupted": String(message.interrupted)},
    h("span", {class: "who"}, message.role === "user" ? "Caller" : "Agent"),
    h("div", {class: "text"},
      h("span", {class: "heard"}, message.text),
      message.interrupted ? h("span", {class: "badge"}, "interrupted") : null,
      " ", time,
      message.metrics ? h("ol", {class: "latency compact"}, latencyRow(message.metrics)) : null,
      (message.citations ?? []).length
        ? h("ul", {class: "citations"}, message.citations.map((c) =>
          h("li", {}, h("strong", {}, c.title || c.source_id), ` ${c.snippet}`))) : null));
}


