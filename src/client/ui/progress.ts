// Renders enrollment step events: a spinner while a step runs (TTY), then one line per step
// with its duration; on a pipe or file, just the finished lines.
import type { StepEvent, StepListener } from "../steps.js";
import { Spinner } from "./spinner.js";
import { colorsFor, formatDuration, isInteractiveStream } from "./terminal.js";

export interface ProgressRenderer {
  listener: StepListener;
  /** Stops a running spinner (before a prompt or an error message). */
  pause(): void;
}

export function createProgressRenderer(stream: NodeJS.WriteStream): ProgressRenderer {
  const tty = isInteractiveStream(stream);
  const colors = colorsFor(stream);
  const spinner = tty ? new Spinner(stream, colors) : null;
  const mark = tty
    ? { ok: colors.green("✔"), fail: colors.red("✖"), notice: colors.yellow("!") }
    : { ok: "[ok]", fail: "[FAILED]", notice: "[note]" };

  const listener = (event: StepEvent) => {
    switch (event.type) {
      case "start":
        spinner?.start(event.title);
        break;
      case "done": {
        spinner?.stop();
        const detail = event.detail ? ` ${colors.dim(`(${event.detail})`)}` : "";
        stream.write(`${mark.ok} ${event.title}${detail}  ${colors.dim(formatDuration(event.ms))}\n`);
        break;
      }
      case "fail":
        spinner?.stop();
        stream.write(`${mark.fail} ${event.title}  ${colors.dim(formatDuration(event.ms))}\n`);
        break;
      case "notice":
        spinner?.stop();
        stream.write(`${mark.notice} ${event.message}\n`);
        break;
    }
  };
  return { listener, pause: () => spinner?.stop() };
}
