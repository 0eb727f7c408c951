// One thread of the issuance pool (issuance-pool.ts): reads CSRs and encodes and signs
// certificates, so that this CPU work runs beside the server's event loop instead of on it.
import { parentPort, workerData } from "node:worker_threads";
import { CsrError, parseCsr } from "./csr.js";
import { CertificateIssuer } from "./issuer.js";
import type { PoolInit, PoolReply, PoolTask } from "./issuance-pool.js";

const init = workerData as PoolInit;
const issuer = new CertificateIssuer({
  issuingCertDer: Buffer.from(init.issuingCertDer),
  issuingKeyPkcs8Der: Buffer.from(init.issuingKeyPkcs8Der),
  chainDer: [],
});

parentPort!.on("message", (task: PoolTask) => {
  let reply: PoolReply;
  try {
    if (task.op === "csr") reply = { id: task.id, value: parseCsr(task.text) };
    else reply = { id: task.id, value: issuer.issueSync({ ...task.spec, spkiDer: Buffer.from(task.spec.spkiDer) }) };
  } catch (e) {
    // Only a CsrError's message is meant for the API caller; anything else is reported generically.
    reply = { id: task.id, error: e instanceof CsrError ? { csr: e.message } : { other: e instanceof Error ? e.message : String(e) } };
  }
  parentPort!.postMessage(reply);
});
