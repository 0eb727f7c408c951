// Prometheus text exposition at /metrics: request counts and latency per route, process memory.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface Series {
  count: number;
  sum: number;
  buckets: number[];
}

/** Counts of answered requests by method, route and status, with a latency histogram. */
export class RequestMetrics {
  private readonly series = new Map<string, Series>();

  /** One answered request (called by the access log when its response has gone out). */
  observe(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? "unmatched";
    const key = `method="${req.method}",route="${route}",status="${reply.statusCode}"`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) }));
    const seconds = reply.elapsedTime / 1000;
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
  }

  exposition(): string {
    const lines: string[] = [
      "# HELP openclm_http_requests_total HTTP requests by route and status.",
      "# TYPE openclm_http_requests_total counter",
    ];
    for (const [k, s] of this.series) lines.push(`openclm_http_requests_total{${k}} ${s.count}`);
    lines.push("# HELP openclm_http_request_duration_seconds HTTP request latency.", "# TYPE openclm_http_request_duration_seconds histogram");
    for (const [k, s] of this.series) {
      BUCKETS.forEach((b, i) => lines.push(`openclm_http_request_duration_seconds_bucket{${k},le="${b}"} ${s.buckets[i]}`));
      lines.push(`openclm_http_request_duration_seconds_bucket{${k},le="+Inf"} ${s.count}`);
      lines.push(`openclm_http_request_duration_seconds_sum{${k}} ${s.sum}`, `openclm_http_request_duration_seconds_count{${k}} ${s.count}`);
    }
    const mem = process.memoryUsage();
    lines.push(
      "# TYPE process_resident_memory_bytes gauge",
      `process_resident_memory_bytes ${mem.rss}`,
      "# TYPE nodejs_heap_used_bytes gauge",
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
    );
    return `${lines.join("\n")}\n`;
  }
}

export function registerMetrics(app: FastifyInstance, metrics: RequestMetrics, guard: (req: FastifyRequest) => Promise<void>): void {
  app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
    await guard(req);
    reply.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    return metrics.exposition();
  });
}
