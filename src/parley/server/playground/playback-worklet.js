// The agent's audio: a jitter buffer on the audio thread.
//
// Frames arrive as linear16 at the rate the call asked for (the context's own when the
// server offers it, so usually no resampling). Playback starts once START_MS is buffered,
// or when audio stops arriving with less queued (a reply's last words), so a short network
// hiccup does not become a click and the first word is not late. `flush` drops everything
// queued at once (barge-in). The main thread gets counters back: samples played (heard),
// samples dropped, what is queued, and the output level, for the `played` ledger and the meter.

const START_MS = 60;
const REPORT_EVERY = 4; // render quanta (128 samples each): ~10 ms at 48 kHz

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.sourceRate = options.processorOptions.sourceRate;
    this.step = this.sourceRate / sampleRate; // source samples per output sample
    this.chunks = []; // Float32Arrays at the source rate
    this.offset = 0; // read position (fractional) within chunks[0]
    this.queued = 0; // source samples not yet played
    this.played = 0; // source samples played, whole-session
    this.dropped = 0; // source samples discarded by `flush`
    this.playing = false;
    this.starve = 0; // quanta without new audio while buffering
    this.quanta = 0;
    this.level = 0;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  receive(message) {
    if (message.type === "audio") {
      const pcm = new Int16Array(message.data);
      const samples = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
      this.chunks.push(samples);
      this.queued += samples.length;
      this.starve = 0;
    } else if (message.type === "flush") {
      const heard = Math.floor(this.offset);
      this.played += heard;
      this.dropped += this.queued - heard;
      this.chunks = [];
      this.offset = 0;
      this.queued = 0;
      this.playing = false;
      this.report(true);
    }
  }

  report(flushed = false) {
    const heard = Math.floor(this.offset);
    this.port.postMessage({
      played: this.played + heard,
      dropped: this.dropped,
      queued: this.queued - heard,
      playing: this.playing,
      level: this.level,
      flushed,
    });
  }

  /** The sample at fractional position `at` of the queue, without consuming it. */
  sampleAt(position) {
    let index = 0;
    let at = position;
    while (index < this.chunks.length && at >= this.chunks[index].length) {
      at -= this.chunks[index].length;
      index++;
    }
    if (index >= this.chunks.length) return 0;
    const whole = Math.floor(at);
    const fraction = at - whole;
    const chunk = this.chunks[index];
    const first = chunk[whole];
    let second = first;
    if (whole + 1 < chunk.length) second = chunk[whole + 1];
    else if (index + 1 < this.chunks.length) second = this.chunks[index + 1][0];
    return first + (second - first) * fraction;
  }

  process(_inputs, outputs) {
    const output = outputs[0][0];
    const startAt = (START_MS * this.sourceRate) / 1000;
    if (!this.playing && this.queued > 0) {
      this.starve++;
      // enough buffered, or nothing more is coming soon: play what there is
      const waited = (this.starve * 128 * 1000) / sampleRate;
      if (this.queued >= startAt || waited >= START_MS) this.playing = true;
    }
    let energy = 0;
    if (this.playing) {
      for (let i = 0; i < output.length; i++) {
        if (this.queued <= this.offset) break;
        const value = this.sampleAt(this.offset);
        output[i] = value;
        energy += value * value;
        this.offset += this.step;
        // retire whole chunks behind the read position
        while (this.chunks.length && this.offset >= this.chunks[0].length) {
          const length = this.chunks[0].length;
          this.offset -= length;
          this.queued -= length;
          this.played += length;
          this.chunks.shift();
        }
      }
      if (this.queued <= 0) {
        // ran dry: the next audio buffers again before it plays
        this.playing = false;
        this.queued = 0;
        this.offset = 0;
        this.starve = 0;
      }
    }
    this.level = Math.max(Math.sqrt(energy / output.length), this.level * 0.97);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(output);
    if (++this.quanta % REPORT_EVERY === 0) this.report();
    return true;
  }
}

registerProcessor("parley-playback", PlaybackProcessor);
