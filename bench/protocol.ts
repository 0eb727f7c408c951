// Messages between the bench's parent and its load-generator workers. Times are milliseconds of
// the monotonic clock (process.hrtime), which all threads and processes of the machine share,
// so the parent can set a window that every worker, and the server's CPU profile, agree on.

export const hrNow = (): number => Number(process.hrtime.bigint()) / 1e6;

export interface Credentials {
  url: string;
  user: string;
  password: string;
}

export interface EnrollJob extends Credentials {
  kind: "enroll";
  clients: number;
  /** base64 DER CSRs, used round-robin */
  csrs: string[];
  clientBase: number;
  measureAt: number;
  stopAt: number;
}

export interface PrepJob extends Credentials {
  kind: "prep";
  clients: number;
  template: string;
  count: number;
  /** stop preparing at this instant, with what is ready */
  stopAt: number;
}

export interface IssueJob extends Credentials {
  kind: "issue";
  clients: number;
  csrs: string[];
  requestIds: string[];
  measureAt: number;
  stopAt: number;
}

export interface CfsslJob {
  kind: "cfssl";
  url: string;
  clients: number;
  csrPems: string[];
  measureAt: number;
  stopAt: number;
}

export interface SignJob {
  kind: "sign";
  keyPkcs8Der: Uint8Array;
  hash: string;
  startAt: number;
  stopAt: number;
}

export type Job = EnrollJob | PrepJob | IssueJob | CfsslJob | SignJob;

export interface ErrorReport {
  /** errors whose call ended inside the measured window */
  inWindow: number;
  /** errors during warm-up or preparation */
  outside: number;
  byEndpoint: Record<string, number>;
  /** a few distinct messages, for the report */
  examples: string[];
}

export interface LoadResult {
  /** per endpoint: latencies (ms) of successful calls that ended inside the window */
  calls: Record<string, Float64Array>;
  /** whole flows (an enrollment, an issuance, a CFSSL sign) that ended inside the window */
  flows: Float64Array;
  errors: ErrorReport;
  /** when the worker's last virtual client stopped */
  endedAt: number;
  /** issue: the worker ran out of prepared requests before stopAt */
  exhausted: boolean;
  /** prep: requests ready for certificatedata */
  requestIds: string[];
}

export interface SignResult {
  count: number;
  elapsedMs: number;
}

export type JobMessage = { id: number; job: Job };
export type ResultMessage = { id: number; ok: true; result: LoadResult | SignResult } | { id: number; ok: false; error: string };
