// A one-line spinner with elapsed time, redrawn in place; only ever used on a TTY.
import { formatDuration, type Colors } from "./terminal.js";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const INTERVAL_MS = 80;

export class Spinner {
  #timer: NodeJS.Timeout | null = null;
  #frame = 0;
  #text = "";
  #started = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly colors: Colors,
  ) {}

  start(text: string): void {
    this.stop();
    this.#text = text;
    this.#started = performance.now();
    this.#draw();
    this.#timer = setInterval(() => this.#draw(), INTERVAL_MS);
    // A forgotten spinner must never keep the process alive.
    this.#timer.unref();
  }

  #draw(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length]!;
    const elapsed = this.colors.dim(formatDuration(performance.now() - this.#started));
    this.stream.write(`\r\x1b[2K${this.colors.yellow(frame)} ${this.#text}  ${elapsed}`);
  }

  /** Clears the spinner's line so the caller can write the final one in its place. */
  stop(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.stream.write("\r\x1b[2K");
  }
}
