// Microphone → 16 kHz linear16, in 20 ms frames (320 samples), on the audio thread.
//
// The context runs at the device's rate (usually 48 kHz). Dropping to 16 kHz needs a
// low-pass first or everything above 8 kHz folds back as noise the recogniser hears; a
// windowed-sinc FIR cuts at 7.2 kHz, then linear interpolation picks the output instants,
// which also handles rates that are not a multiple of 16 kHz (44.1 kHz).

const TARGET_RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz
const TAPS = 63;

function lowPass(cutoff, taps) {
  // cutoff as a fraction of the input rate; Blackman window; unity gain at DC
  const middle = (taps - 1) / 2;
  const coefficients = new Float32Array(taps);
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1))
      + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    coefficients[i] = sinc * window;
    sum += coefficients[i];
  }
  for (let i = 0; i < taps; i++) coefficients[i] /= sum;
  return coefficients;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample
    this.taps = lowPass(Math.min(7200 / sampleRate, 0.45), TAPS);
    this.history = new Float32Array(TAPS);
    this.head = 0;
    this.previous = 0; // the last filtered sample
    this.next = 1; // where the next output falls, in input samples after `previous`
    this.frame = new Int16Array(FRAME);
    this.filled = 0;
    this.energy = 0;
    this.counted = 0;
  }

  filter(sample) {
    this.history[this.head] = sample;
    let acc = 0;
    let index = this.head;
    for (let k = 0; k < TAPS; k++) {
      acc += this.taps[k] * this.history[index];
      index = index === 0 ? TAPS - 1 : index - 1;
    }
    this.head = (this.head + 1) % TAPS;
    return acc;
  }

  emit(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    this.energy += clipped * clipped;
    this.counted++;
    if (this.filled === FRAME) {
      const level = Math.sqrt(this.energy / this.counted);
      // transfer, not copy: 50 frames a second should not churn the heap
      this.port.postMessage({frame: this.frame.buffer, level}, [this.frame.buffer]);
      this.frame = new Int16Array(FRAME);
      this.filled = 0;
      this.energy = 0;
      this.counted = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const current = this.filter(channel[i]);
      while (this.next <= 1) {
        this.emit(this.previous + (current - this.previous) * this.next);
        this.next += this.step;
      }
      this.next -= 1;
      this.previous = current;
    }
    return true;
  }
}

registerProcessor("parley-capture", CaptureProcessor);
