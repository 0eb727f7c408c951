import { pino, type DestinationStream, type Logger } from "pino";

/**
 * The server's log (standard output, one JSON line per event). pino's default destination made one
 * write system call per line — per request, with the access log — about 6 % of the event loop under
 * issuance load. Lines are collected and written together at most FLUSH_DELAY_MS after the first
 * of them, or at once past MAX_HELD characters, and always before the process exits. (Flushing at
 * the end of each event-loop turn still made about one write per request: under load most turns
 * finish one request. Not sonic-boom's flushSync either: it fsyncs the file after every flush.)
 * What a crash that skips exit handlers (SIGKILL) can lose is the last few milliseconds of log;
 * the audit trail is in the database and does not depend on this.
 */
export function serverLogger(level: string): Logger {
  return pino({ level }, stdoutBatched());
}

/** Past this many characters the collected lines are written at once. */
const MAX_HELD = 16 * 1024;
const FLUSH_DELAY_MS = 10;

let shared: DestinationStream | undefined;

/** One writer for the process's standard output, however many loggers write to it. */
function stdoutBatched(): DestinationStream {
  if (shared) return shared;
  // Synchronous, no minimum length: each write() below is one write system call (EAGAIN retried).
  const destination = pino.destination({ dest: 1, sync: true });
  let lines: string[] = [];
  let held = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = lines.join("");
    lines = [];
    held = 0;
    destination.write(text);
  };
  process.on("exit", flush);
  shared = {
    write(line: string) {
      lines.push(line);
      held += line.length;
      if (held >= MAX_HELD) flush();
      else if (!scheduled) {
        scheduled = true;
        // Unreferenced: pending lines do not keep a process alive; the exit handler writes them.
        setTimeout(flush, FLUSH_DELAY_MS).unref();
      }
    },
  };
  return shared;
}
