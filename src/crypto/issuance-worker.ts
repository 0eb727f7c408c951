// One thread of the issuance pool (issuance-pool.ts): reads CSRs and encodes and signs
// certificates, so that this CPU work runs beside the server's event loop instead of on it.
import { parentPort, workerData } from "node:worker_threads";
import { CsrError, meetsRequirement, parseCsr } from "./csr.js";
import { certsOnlyPkcs7ForChain } from "./cms.js";
import { CertificateIssuer, type IssueSpec } from "./issuer.js";
import type { PoolInit, PoolReply, PoolTask } from "./issuance-pool.js";

const init = workerData as PoolInit;
const issuer = new CertificateIssuer({
  issuingCertDer: Buffer.from(init.issuingCertDer),
  issuingKeyPkcs8Der: Buffer.from(init.issuingKeyPkcs8Der),
  chainDer: [],
});
const pkcs7Of = certsOnlyPkcs7ForChain(init.chainDer.map((d) => Buffer.from(d)));
// Posted buffers arrive as plain Uint8Arrays: the issuer gets a Buffer view of the same bytes.
const issue = (spec: IssueSpec) => issuer.issueSync({ ...spec, spkiDer: Buffer.from(spec.spkiDer.buffer, spec.spkiDer.byteOffset, spec.spkiDer.byteLength) });

parentPort!.on("message", (task: PoolTask) => {
  let reply: PoolReply;
  try {
    if (task.op === "csr") {
      const csr = parseCsr(task.text);
      reply = { id: task.id, value: { ...csr, der: ownBytes(csr.der), spkiDer: ownBytes(csr.spkiDer) } };
    } else if (task.op === "issue") reply = { id: task.id, value: ownBytes(issue(task.spec)) };
    else if (task.op === "issueForCsr") {
      const { der: _request, spkiDer, ...csr } = parseCsr(task.text);
      if (!meetsRequirement(csr, task.requirement)) reply = { id: task.id, value: { csr } };
      else {
        const der = issuer.issueSync({ ...task.spec, spkiDer });
        reply = { id: task.id, value: { csr, der: ownBytes(der), pkcs7: ownBytes(pkcs7Of(der)) } };
      }
    }
    else {
      const der = issue(task.spec);
      reply = { id: task.id, value: { der: ownBytes(der), pkcs7: ownBytes(pkcs7Of(der)) } };
    }
  } catch (e) {
    // Only a CsrError's message is meant for the API caller; anything else is reported generically.
    reply = { id: task.id, error: e instanceof CsrError ? { csr: e.message } : { other: e instanceof Error ? e.message : String(e) } };
  }
  parentPort!.postMessage(reply);
});

/**
 * The answer's buffers, each in memory of its own. A small Buffer is usually a view into Node's
 * shared 8 KiB pool, and a posted view is cloned with the whole block it lies in: a 624-byte CSR
 * crossed to the event loop as 8 KiB. (A copy is a plain Uint8Array, as anything posted arrives:
 * the pool makes Buffers of what it receives.)
 */
function ownBytes<T extends Uint8Array>(bytes: T): T {
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : (new Uint8Array(bytes) as T);
}
