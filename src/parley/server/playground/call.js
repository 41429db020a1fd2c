// One call over the native dialect (docs/protocols/native.md): prepare it with
// POST /v1/voice, open the WebSocket, stream the microphone, play the agent, keep the
// server's playback ledger exact with `played`, and show everything that happens.

import {api, explain} from "./api.js";
import {CallAudio} from "./audio.js";
import {$} from "./dom.js";
import {LiveTranscript} from "./transcript.js";

const PLAYED_EVERY_MS = 150;
const INPUT = {encoding: "linear16", sample_rate: 16000};

export class CallPanel {
  constructor({onEnded}) {
    this.onEnded = onEnded;
    this.socket = null;
    this.audio = null;
    this.view = new LiveTranscript({onToolResult: (result) => this.send("tool_result", result)});
    this.ui = {
      start: $("call-start"), mute: $("call-mute"), end: $("call-end"),
      agent: $("call-agent"), record: $("call-record"), state: $("agent-state"),
      level: $("level"), played: $("played-ms"), queued: $("queued-ms"),
      interruptions: $("interrupted-count"), error: $("call-error"), note: $("call-note"),
      text: $("text-input"), textSend: $("text-send"), textForm: $("text-form"),
    };
    this.ui.start.addEventListener("click", () => this.start());
    this.ui.end.addEventListener("click", () => this.stop());
    this.ui.mute.addEventListener("click", () => this.toggleMute());
    this.ui.textForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.ui.text.value.trim();
      if (text && this.send("text", {text})) this.ui.text.value = "";
    });
  }

  get live() {
    return this.socket !== null;
  }

  setState(state) {
    this.ui.state.textContent = state;
    this.ui.state.dataset.state = state;
  }

  showError(message) {
    this.ui.error.textContent = message;
  }

  setControls(live) {
    this.ui.start.disabled = live;
    this.ui.agent.disabled = live;
    this.ui.end.disabled = !live;
    this.ui.mute.disabled = !live;
    this.ui.text.disabled = !live;
    this.ui.textSend.disabled = !live;
  }

  send(type, payload = {}) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({type, payload}));
    return true;
  }

  async start() {
    const agentId = this.ui.agent.value;
    if (!agentId) {
      this.showError("Create an agent first.");
      return;
    }
    this.showError("");
    this.ui.note.textContent = "Connecting…";
    this.view.clear();
    this.interruptions = 0;
    this.ui.interruptions.value = "0";
    this.counters = {played: 0, dropped: 0, queued: 0, playing: false, level: 0};
    this.ready = false;
    this.speaking = false;
    this.setControls(true);
    this.setState("connecting");
    try {
      // created inside the click, so the browser lets it make sound
      this.audio = new CallAudio({
        onFrame: (frame) => this.ready && this.socket?.readyState === WebSocket.OPEN && this.socket.send(frame),
        onPlayback: (counters) => this.playback(counters),
      });
      await this.audio.open();
      const prepared = await api("/v1/voice", {
        method: "POST",
        body: {agent_id: agentId, record: this.ui.record.checked},
      });
      this.outputRate = this.audio.outputRate;
      this.audio.startPlayback(this.outputRate);
      await this.audio.startMicrophone();
      this.connect(prepared);
    } catch (exc) {
      const message = exc.name === "NotAllowedError"
        ? "The microphone was refused: allow it for this page and start again."
        : explain(exc);
      this.showError(`Could not start the call: ${message}`);
      await this.cleanUp("");
    }
  }

  connect(prepared) {
    const socket = new WebSocket(prepared.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.sessionId = prepared.session_id;
    socket.addEventListener("open", () => {
      const payload = {
        ...prepared.start_message.payload,
        audio: {input: INPUT, output: {encoding: "linear16", sample_rate: this.outputRate}},
        binary_audio: true,
      };
      socket.send(JSON.stringify({type: "start", payload}));
    });
    socket.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) this.agentAudio(event.data);
      else this.message(JSON.parse(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      if (!this.endedReason && event.code !== 1000) {
        this.showError(`The connection closed (${event.code}${event.reason ? `: ${event.reason}` : ""}).`);
      }
      this.cleanUp(this.endedReason ? `Call ended: ${this.endedReason}.` : "Call ended.");
    });
  }

  message({type, payload}) {
    switch (type) {
      case "started":
        this.ui.note.textContent = `Session ${payload.session_id}`;
        break;
      case "ready":
        this.ready = true;
        this.setState("listening");
        this.ticker = setInterval(() => this.reportPlayed(), PLAYED_EVERY_MS);
        break;
      case "transcript":
        this.view.transcript(payload);
        if (payload.role === "user") {
          if (payload.final) this.setState("thinking");
          else if (!this.speaking) this.setState("listening");
        }
        break;
      case "tool_call":
        this.view.toolCall(payload);
        break;
      case "citation":
        this.view.citation(payload);
        break;
      case "metrics":
        if (payload.barge_in) this.view.bargeIn(payload.turn, payload.barge_in);
        else this.view.metrics(payload);
        break;
      case "paused": // the caller spoke over the agent: hold, and drop what is queued
        this.audio?.flush();
        this.setState("listening");
        break;
      case "resumed": // it was a backchannel or a noise: the agent goes on
        this.setState("speaking");
        break;
      case "interrupted":
        this.audio?.flush();
        this.interruptions++;
        this.ui.interruptions.value = String(this.interruptions);
        this.view.interrupted();
        this.speaking = false;
        this.setState("listening");
        break;
      case "error":
        this.showError(`${payload.fatal ? "Call failed" : "Error"}: ${payload.message} (${payload.code})`);
        break;
      case "ended":
        this.endedReason = payload.reason;
        break;
      default:
        break; // a newer server's message: nothing to show
    }
  }

  agentAudio(buffer) {
    this.audio?.play(buffer);
    if (!this.speaking) {
      this.speaking = true;
      this.setState("speaking");
    }
  }

  playback(counters) {
    this.counters = counters;
    const toMs = (samples) => Math.round((samples * 1000) / this.outputRate);
    this.ui.played.value = String(toMs(counters.played));
    this.ui.queued.value = String(toMs(counters.queued));
    this.ui.level.value = Math.min(1, counters.level * 4);
    if (counters.flushed) this.reportPlayed();
    if (this.speaking && !counters.playing && counters.queued === 0) {
      this.speaking = false;
      this.setState("listening");
    }
  }

  /** The server's ledger counts the session's output stream: what was played plus what was
   * dropped at a barge-in (sent, never heard) is where the next reply starts. */
  reportPlayed() {
    if (!this.ready || !this.counters) return;
    const samples = this.counters.played + this.counters.dropped;
    this.send("played", {ms: (samples * 1000) / this.outputRate});
  }

  toggleMute() {
    const muted = this.ui.mute.getAttribute("aria-pressed") !== "true";
    this.ui.mute.setAttribute("aria-pressed", String(muted));
    this.ui.mute.textContent = muted ? "Unmute" : "Mute";
    if (this.audio) this.audio.muted = muted;
  }

  stop() {
    if (!this.send("stop")) {
      this.cleanUp("Call ended.");
      return;
    }
    this.ui.end.disabled = true;
    this.ui.note.textContent = "Ending…";
    // the server answers `ended` and closes; don't hang if it never does
    this.stopTimer = setTimeout(() => this.socket?.close(1000), 5000);
  }

  async cleanUp(note) {
    clearInterval(this.ticker);
    clearTimeout(this.stopTimer);
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    this.speaking = false;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    await this.audio?.close();
    this.audio = null;
    this.ui.level.value = 0;
    this.ui.queued.value = "0";
    this.ui.mute.setAttribute("aria-pressed", "false");
    this.ui.mute.textContent = "Mute";
    this.setControls(false);
    this.setState("idle");
    if (note) this.ui.note.textContent = note;
    this.endedReason = null;
    if (this.sessionId) this.onEnded(this.sessionId);
    this.sessionId = null;
  }
}
