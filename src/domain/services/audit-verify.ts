// `openclm admin audit verify`: walks the whole chain in pages and checks that it ends at the
// recorded head, so an edited, inserted or deleted record — the newest ones included — is found.
import type { AuditRow, Store } from "../../store/store.js";
import { chainHead, GENESIS_HASH, headHashValue, linkPendingAudit, verifyChain } from "../audit.js";

export interface VerifyReport {
  ok: boolean;
  records: number;
  lastSeq: number | null;
  lastHash: string;
  /** The first record whose hash or link is wrong. */
  brokenAt?: number;
  problem?: string;
}

const PAGE = 2000;

/**
 * `anchor`: a head noted earlier (e.g. printed by a previous verify and kept elsewhere); the
 * record with that seq must still carry that hash, which catches a chain rebuilt from scratch.
 */
export async function verifyAuditTrail(store: Store, anchor?: { seq: number; hash: string }): Promise<VerifyReport> {
  await linkPendingAudit(store);
  let prev = GENESIS_HASH;
  let last: AuditRow | undefined;
  let records = 0;
  let anchorSeen = false;
  for (;;) {
    let q = store.db.selectFrom("audit_events").selectAll().orderBy("seq").limit(PAGE);
    if (last) q = q.where("seq", ">", last.seq);
    const rows = await q.execute();
    if (rows.length === 0) break;
    const { brokenAt } = verifyChain(rows, prev);
    if (brokenAt !== undefined) {
      return report(false, records + rows.findIndex((r) => r.seq === brokenAt), last, prev, {
        brokenAt: Number(brokenAt),
        problem: `record ${brokenAt} was changed, or a record before it was deleted or inserted`,
      });
    }
    if (anchor) {
      const hit = rows.find((r) => Number(r.seq) === anchor.seq);
      if (hit) {
        if (hit.hash !== anchor.hash) return report(false, records, last, prev, { brokenAt: anchor.seq, problem: `record ${anchor.seq} no longer has the anchored hash` });
        anchorSeen = true;
      }
    }
    records += rows.length;
    last = rows[rows.length - 1]!;
    prev = last.hash;
  }
  if (anchor && !anchorSeen) return report(false, records, last, prev, { problem: `the anchored record ${anchor.seq} is missing` });
  const head = await chainHead(store);
  if (!head && last) return report(false, records, last, prev, { problem: "the recorded chain head is missing" });
  if (head && !last) return report(false, 0, last, prev, { problem: `the trail is empty but its head says record ${head.seq} was written` });
  if (head && last) {
    if (Number(last.seq) < head.seq) return report(false, records, last, prev, { problem: `records after ${last.seq} up to ${head.seq} were deleted` });
    if (Number(last.seq) > head.seq) return report(false, records, last, prev, { brokenAt: head.seq + 1, problem: `records after ${head.seq} were added outside the server` });
    if (headHashValue(last.hash) !== head.hashValue) return report(false, records, last, prev, { brokenAt: head.seq, problem: `record ${head.seq} does not match the recorded chain head` });
  }
  return report(true, records, last, prev);
}

function report(ok: boolean, records: number, last: AuditRow | undefined, lastHash: string, extra: Partial<VerifyReport> = {}): VerifyReport {
  return { ok, records, lastSeq: last ? Number(last.seq) : null, lastHash, ...extra };
}
