// The call's audio graph: microphone → capture worklet → 16 kHz frames out, and server
// audio → playback worklet → speakers. One AudioContext at the device's own rate.

// The linear16 rates the native dialect offers for `audio.output` (docs/protocols/native.md)
const SERVER_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

export class CallAudio {
  constructor({onFrame, onPlayback}) {
    this.onFrame = onFrame; // (ArrayBuffer of 320 Int16 samples, input level) => void
    this.onPlayback = onPlayback; // (counters from the playback worklet) => void
    this.context = null;
    this.stream = null;
  }

  /** Must run inside a user gesture (a click), or the context starts suspended. */
  async open() {
    this.context = new AudioContext({latencyHint: "interactive"});
    await this.context.resume();
    await Promise.all([
      this.context.audioWorklet.addModule("/playground/capture-worklet.js"),
      this.context.audioWorklet.addModule("/playground/playback-worklet.js"),
    ]);
  }

  /** Ask for the context's own rate when the server offers it: no resampling on playback. */
  get outputRate() {
    const rate = this.context.sampleRate;
    return SERVER_RATES.includes(rate) ? rate : 24000;
  }

  async startMicrophone() {
    // Echo cancellation keeps the agent's own voice, from the speakers, out of the
    // microphone: without it the agent hears itself and barges in on its own reply.
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1},
    });
    const source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "parley-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
    });
    this.capture.port.onmessage = (event) => this.onFrame(event.data.frame, event.data.level);
    source.connect(this.capture);
    // A node must reach the destination to be pulled; the capture node writes silence.
    this.capture.connect(this.context.destination);
  }

  startPlayback(sourceRate) {
    this.playback = new AudioWorkletNode(this.context, "parley-playback", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: {sourceRate},
    });
    this.playback.port.onmessage = (event) => this.onPlayback(event.data);
    this.playback.connect(this.context.destination);
  }

  play(buffer) {
    this.playback?.port.postMessage({type: "audio", data: buffer}, [buffer]);
  }

  /** Barge-in: drop every queued sample now. */
  flush() {
    this.playback?.port.postMessage({type: "flush"});
  }

  set muted(value) {
    // A disabled track delivers silence: the stream keeps its clock and the server's
    // voice activity detection just hears nothing.
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = !value;
  }

  async close() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.capture?.disconnect();
    this.playback?.disconnect();
    this.capture = this.playback = null;
    if (this.context && this.context.state !== "closed") await this.context.close();
    this.context = null;
  }
}
