// Loaded into the server by `npm run bench -- --profile` (node --import): records when each
// request started and ended on the monotonic clock the CPU profile uses, so that at concurrency 1
// every profile sample can be charged to the one API call in flight (profile.ts, perCallTimes).
// It reaches the server's Fastify instance through Fastify's own diagnostics channel; the server
// is not changed. The file named by OPENCLM_BENCH_TRACE is written when the process exits.
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";

const file = process.env.OPENCLM_BENCH_TRACE;
/** [start µs, end µs, "METHOD /route/pattern"]; an unrouted request by its path, without its query. */
const calls: Array<[number, number, string]> = [];
const started = new WeakMap<object, number>();
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

interface HookedFastify {
  addHook(name: "onRequest" | "onResponse", hook: (req: TracedRequest, reply: unknown, done: () => void) => void): void;
}
interface TracedRequest {
  method: string;
  url: string;
  routeOptions?: { url?: string };
}

if (file) {
  subscribe("fastify.initialization", (message) => {
    const { fastify } = message as { fastify: HookedFastify };
    fastify.addHook("onRequest", (req, _reply, done) => {
      started.set(req, nowUs());
      done();
    });
    fastify.addHook("onResponse", (req, _reply, done) => {
      const start = started.get(req);
      if (start !== undefined) calls.push([start, nowUs(), `${req.method} ${req.routeOptions?.url ?? req.url.split("?")[0]}`]);
      done();
    });
  });
  process.on("exit", () => writeFileSync(file, JSON.stringify(calls)));
}
