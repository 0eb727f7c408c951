import { pino, type Logger } from "pino";

/**
 * The server's log (standard output, one JSON line per event). pino's default destination made one
 * write system call per line — per request, with the access log — about 6 % of the event loop under
 * issuance load. Lines are now buffered and written together at the end of each event-loop turn
 * (setImmediate), so a line is still out within the turn that logged it, and before exit.
 */
export function serverLogger(level: string): Logger {
  // Synchronous writes; a buffer that reaches 16 KiB (sonic-boom's largest single write) goes out at once.
  const destination = pino.destination({ dest: 1, sync: true, minLength: 16 * 1024 - 1 });
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    destination.flushSync();
  };
  process.on("exit", () => destination.flushSync());
  return pino(
    { level },
    {
      write(line: string) {
        destination.write(line);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      },
    },
  );
}
