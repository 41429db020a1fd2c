// Agents: list them, create one, edit one (docs/protocols/rest.md, "Agents").

import {api, explain} from "./api.js";
import {$, h} from "./dom.js";

const VAD = [
  ["vad-threshold", "threshold"],
  ["vad-start", "start_ms"],
  ["vad-endpoint", "endpoint_ms"],
  ["vad-min-turn", "min_turn_ms"],
  ["vad-min-interruption", "min_interruption_ms"],
];
const OPTIONAL_TEXT = [
  ["agent-greeting", "greeting"],
  ["agent-stt", "stt"],
  ["agent-llm", "llm"],
  ["agent-tts", "tts"],
];

/** A provider field holds a spec (`fake-tts:seconds=4`) or a JSON list of fallbacks. */
function readSpec(value) {
  const text = value.trim();
  if (!text) return null;
  if (text.startsWith("[")) return JSON.parse(text);
  return text;
}

const showSpec = (spec) => (spec === null || spec === undefined ? ""
  : Array.isArray(spec) ? JSON.stringify(spec) : spec);

export class AgentsPanel {
  constructor({onChange}) {
    this.onChange = onChange; // (agents) => void: the call panel's choices
    this.agents = [];
    this.voices = {data: [], providers: []};
    this.editing = null;
    this.form = $("agent-form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("agent-new").addEventListener("click", () => this.edit(null));
    $("agent-tts").addEventListener("change", () => this.fillVoices($("agent-voice").value));
  }

  async load() {
    const [agents, voices, knowledge] = await Promise.all([
      api("/v1/agents?limit=100"),
      api("/v1/voices").catch(() => ({data: [], providers: []})),
      api("/v1/knowledge?limit=100").catch(() => ({data: []})),
    ]);
    this.agents = agents.data;
    this.voices = voices;
    this.knowledge = knowledge.data;
    const server = voices.providers.find((p) => p.default);
    if (server) $("agent-tts").placeholder = `the server's (${server.spec})`;
    const select = $("agent-knowledge");
    select.replaceChildren(...this.knowledge.map((k) => h("option", {value: k.id}, `${k.name} (${k.id})`)));
    $("knowledge-field").hidden = this.knowledge.length === 0;
    this.render();
    if (!this.editing) this.edit(null);
  }

  render() {
    const list = $("agent-list");
    if (!this.agents.length) {
      list.replaceChildren(h("li", {class: "muted"}, "No agents yet: create one below."));
    } else {
      list.replaceChildren(...this.agents.map((agent) => h("li", {},
        h("button", {type: "button", class: "agent-pick", "aria-current": agent.id === this.editing?.id ? "true" : false,
          onclick: () => this.edit(agent)}, agent.name),
        h("span", {class: "muted small"}, ` ${agent.id}`))));
    }
    this.onChange(this.agents);
  }

  /** The voices of the TTS the form names (or the server's default), and `default`. */
  fillVoices(selected) {
    const spec = $("agent-tts").value.trim();
    const family = spec ? spec.replace(/^\[\s*"?/, "").split(/[:",\]]/)[0] : null;
    const server = this.voices.providers.find((p) => p.default);
    const tts = family || (server && server.name);
    const voices = this.voices.data.filter((voice) => voice.tts === tts);
    const select = $("agent-voice");
    const options = [h("option", {value: "default"}, "default (the language's own voice)")];
    for (const voice of voices) {
      if (voice.id !== "default") options.push(h("option", {value: voice.id}, `${voice.name} (${voice.id})`));
    }
    if (selected && ![...options].some((o) => o.value === selected)) {
      options.push(h("option", {value: selected}, selected)); // a voice this list does not know
    }
    select.replaceChildren(...options);
    select.value = selected || "default";
  }

  edit(agent) {
    this.editing = agent;
    $("agent-form-title").textContent = agent ? `Edit ${agent.name}` : "New agent";
    $("agent-save").textContent = agent ? "Save changes" : "Create agent";
    $("agent-error").textContent = "";
    $("agent-saved").textContent = "";
    $("agent-name").value = agent?.name ?? "";
    $("agent-prompt").value = agent?.system_prompt ?? "You are a helpful voice assistant. Answer briefly.";
    for (const [id, field] of OPTIONAL_TEXT) $(id).value = showSpec(agent?.[field]);
    for (const [id, field] of VAD) $(id).value = agent?.vad?.[field] ?? "";
    $("agent-tools").value = JSON.stringify(agent?.tools ?? [], null, 2);
    $("agent-record").checked = Boolean(agent?.record);
    const chosen = new Set(agent?.knowledge_ids ?? []);
    for (const option of $("agent-knowledge").options) option.selected = chosen.has(option.value);
    this.fillVoices(agent?.voice_id ?? "default");
    this.render();
  }

  /** The form as an API body; throws a plain message for what cannot be sent. */
  read() {
    const body = {
      name: $("agent-name").value.trim(),
      system_prompt: $("agent-prompt").value,
      voice_id: $("agent-voice").value || "default",
      record: $("agent-record").checked,
    };
    if (!body.name) throw new Error("An agent needs a name.");
    for (const [id, field] of OPTIONAL_TEXT) {
      let value;
      try {
        value = field === "greeting" ? $(id).value.trim() || null : readSpec($(id).value);
      } catch {
        throw new Error(`${field}: a spec, or a JSON list of specs`);
      }
      if (value !== null) body[field] = value;
      else if (this.editing) body[field] = null; // PATCH: null resets the field
    }
    let tools;
    try {
      tools = JSON.parse($("agent-tools").value || "[]");
    } catch (exc) {
      throw new Error(`Tools are not valid JSON: ${exc.message}`);
    }
    if (!Array.isArray(tools) || tools.some((t) => typeof t !== "object" || t === null || Array.isArray(t))) {
      throw new Error("Tools must be a JSON list of objects.");
    }
    body.tools = tools;
    const vad = {};
    for (const [id, field] of VAD) {
      const raw = $(id).value.trim();
      if (raw !== "") vad[field] = Number(raw);
    }
    if (Object.keys(vad).length) body.vad = vad;
    if (this.knowledge.length) {
      body.knowledge_ids = [...$("agent-knowledge").selectedOptions].map((o) => o.value);
    }
    return body;
  }

  async save() {
    $("agent-error").textContent = "";
    $("agent-saved").textContent = "";
    let body;
    try {
      body = this.read();
    } catch (exc) {
      $("agent-error").textContent = exc.message;
      return;
    }
    const button = $("agent-save");
    button.disabled = true;
    try {
      const saved = this.editing
        ? await api(`/v1/agents/${encodeURIComponent(this.editing.id)}`, {method: "PATCH", body})
        : await api("/v1/agents", {method: "POST", body});
      const index = this.agents.findIndex((a) => a.id === saved.id);
      if (index >= 0) this.agents[index] = saved;
      else this.agents.unshift(saved);
      this.edit(saved);
      $("agent-saved").textContent = `Saved ${saved.name} (${saved.id}).`;
    } catch (exc) {
      $("agent-error").textContent = `Not saved: ${explain(exc)}`;
    } finally {
      button.disabled = false;
    }
  }
}
