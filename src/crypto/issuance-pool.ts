import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CsrError, type CsrFacts, type KeyRequirement, type ParsedCsr } from "./csr.js";
import type { IssueSpec } from "./issuer.js";

/**
 * Worker threads for the CPU work of issuance: reading and verifying CSRs, encoding and signing
 * certificates. On the event loop that work was a quarter of the server's time under issuance
 * load; here it runs on the other cores while the loop serves requests and the database.
 * Each worker holds the issuing CA's key, as the server process does already.
 */

export interface PoolInit {
  issuingCertDer: Uint8Array;
  issuingKeyPkcs8Der: Uint8Array;
  /** Issuing CA first, then the root: what a certs-only PKCS#7 answer carries after the certificate. */
  chainDer: Uint8Array[];
}

type Task =
  | { op: "csr"; text: string }
  | { op: "issue"; spec: IssueSpec }
  | { op: "issueWithChain"; spec: IssueSpec }
  | { op: "issueForCsr"; text: string; requirement: KeyRequirement; spec: Omit<IssueSpec, "spkiDer"> };
export type PoolTask = Task & { id: number };
type Issued = { der: Uint8Array; pkcs7: Uint8Array };
export type PoolReply =
  | { id: number; value: ParsedCsr | Uint8Array | Issued | { csr: CsrFacts; der?: Uint8Array; pkcs7?: Uint8Array } }
  | { id: number; error: { csr: string } | { other: string } };

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set by the first of its 'error' and 'exit' events; the second then changes nothing. */
  dead?: true;
}

/**
 * One core stays for the event loop, which is what limits issuance beyond a few workers. On two
 * cores one worker measured faster than two (1,219 vs 1,067 certificates/s): the second competed
 * with the event loop for its core.
 */
export const DEFAULT_POOL_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));

const MAX_FAILURES_IN_A_ROW = 5;

export class IssuancePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;
  /** Workers that died one after another without answering anything: a pool that cannot start. */
  private failuresInARow = 0;
  private broken?: string;

  constructor(
    private readonly init: PoolInit,
    size = DEFAULT_POOL_SIZE,
    /** The compiled worker; tests that run from the sources point at the built one. */
    private readonly script: URL = new URL("./issuance-worker.js", import.meta.url),
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** parseCsr (csr.ts) on a worker: the same result, the same CsrError messages. */
  async parseCsr(text: string): Promise<ParsedCsr> {
    return csrOf((await this.run({ op: "csr", text })) as ParsedCsr);
  }

  /**
   * parseCsr(text) and, when the request's key meets the requirement, issueWithChain for that key:
   * one trip to a worker instead of two. Without `issued` the key did not meet it and nothing was signed.
   * The request's bytes stay on the worker: issuance needs only its facts.
   */
  async issueForCsr(text: string, requirement: KeyRequirement, spec: Omit<IssueSpec, "spkiDer">): Promise<{ csr: CsrFacts; issued?: { der: Buffer; pkcs7: Buffer } }> {
    const v = (await this.run({ op: "issueForCsr", text, requirement, spec })) as { csr: CsrFacts; der?: Uint8Array; pkcs7?: Uint8Array };
    return { csr: v.csr, ...(v.der && v.pkcs7 ? { issued: { der: asBuffer(v.der), pkcs7: asBuffer(v.pkcs7) } } : {}) };
  }

  /** CertificateIssuer#issue on a worker. */
  async issue(spec: IssueSpec): Promise<Buffer> {
    return asBuffer((await this.run({ op: "issue", spec })) as Uint8Array);
  }

  /** issue(spec), and the certs-only PKCS#7 of the certificate and the chain that delivers it. */
  async issueWithChain(spec: IssueSpec): Promise<{ der: Buffer; pkcs7: Buffer }> {
    const v = (await this.run({ op: "issueWithChain", spec })) as { der: Uint8Array; pkcs7: Uint8Array };
    return { der: asBuffer(v.der), pkcs7: asBuffer(v.pkcs7) };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private run(task: Task): Promise<unknown> {
    if (this.closing) return Promise.reject(new Error("the issuance pool is closed"));
    if (this.broken) return Promise.reject(new Error(`the issuance workers keep failing: ${this.broken}`));
    // The least busy worker: tasks differ little in cost, so queue length is a fair measure.
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A worker with work keeps the process alive (start-up issues the TLS certificate before listening).
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, ...task } as PoolTask);
    });
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, { workerData: this.init });
    const slot: Slot = { worker, pending: new Map() };
    worker.on("message", (reply: PoolReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      this.failuresInARow = 0;
      if (slot.pending.size === 0) worker.unref();
      if ("value" in reply) p.resolve(reply.value);
      else if ("csr" in reply.error) p.reject(new CsrError(reply.error.csr));
      else p.reject(new Error(reply.error.other));
    });
    // A worker that dies (out of memory, a native fault) fails what it held and is replaced.
    const replace = (why: string) => {
      if (slot.dead) return;
      slot.dead = true;
      const i = this.slots.indexOf(slot);
      for (const p of slot.pending.values()) p.reject(new Error(`issuance worker stopped: ${why}`));
      slot.pending.clear();
      if (this.closing) return;
      // A worker that cannot even start (its script or key unusable) would be respawned forever.
      if (++this.failuresInARow > MAX_FAILURES_IN_A_ROW) {
        this.broken = why;
        return;
      }
      this.slots[i] = this.spawn();
    };
    worker.on("error", (err) => replace(err.message));
    worker.on("exit", (code) => replace(`exit code ${code}`));
    // An idle pool does not keep the process alive; the server closes it on shutdown.
    worker.unref();
    return slot;
  }
}

/** A ParsedCsr as it arrives from a worker (its buffers as plain Uint8Arrays). */
function csrOf(v: ParsedCsr): ParsedCsr {
  return { ...v, der: asBuffer(v.der), spkiDer: asBuffer(v.spkiDer) };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
