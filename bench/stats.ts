// Latency samples: growable Float64Array buffers in the workers, merged in the parent, and
// percentiles computed exactly from the sorted samples (nearest-rank).

export class Samples {
  private buf = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  /** A compact copy, suitable for transfer to the parent. */
  take(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

export interface Summary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending samples: the smallest value with p % of samples at or below it. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function merge(parts: Float64Array[]): Float64Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function summarize(samples: Float64Array): Summary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    meanMs: sorted.length ? sum / sorted.length : NaN,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

/** Merges per-worker maps of endpoint → samples. */
export function mergeByKey(maps: Array<Record<string, Float64Array>>): Map<string, Float64Array> {
  const keys: string[] = [];
  for (const m of maps) for (const k of Object.keys(m)) if (!keys.includes(k)) keys.push(k);
  const out = new Map<string, Float64Array>();
  for (const k of keys) out.set(k, merge(maps.map((m) => m[k]).filter((x): x is Float64Array => x !== undefined)));
  return out;
}

export const round = (v: number, digits = 2): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
