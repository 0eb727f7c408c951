// Colour only where a person is looking: a TTY, without NO_COLOR, not TERM=dumb.

export interface Colors {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const plain: Colors = { green: (s) => s, red: (s) => s, yellow: (s) => s, dim: (s) => s, bold: (s) => s };

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const ansi: Colors = { green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), dim: sgr(2, 22), bold: sgr(1, 22) };

export function isInteractiveStream(stream: NodeJS.WritableStream): boolean {
  return Boolean((stream as NodeJS.WriteStream).isTTY) && process.env.TERM !== "dumb";
}

export function colorsFor(stream: NodeJS.WritableStream): Colors {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return plain;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return ansi;
  return isInteractiveStream(stream) ? ansi : plain;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
