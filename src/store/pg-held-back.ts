// Round trips to PostgreSQL are most of what a request costs there (each one a socket write and a
// switch to the backend and back on a small machine). Two kinds of statement need not be one:
// a transaction's BEGIN, and a statement inside a transaction whose answer nobody reads (the audit
// record written with every change). Both are held back and written together with the
// transaction's next statement, or with its COMMIT, in one write (writeTogether): the connection
// runs in pg's pipeline mode, which sends a statement without waiting for the answer to the one before.

/** Prefix of a statement whose answer is not needed (a SQL comment, harmless if it reached PostgreSQL). */
export const ANSWER_NOT_NEEDED = "/* openclm:answer-not-needed */ ";

const ANSWER_LATER = "/* openclm:answer-later:";
interface Waiting {
  resolve: (answer: unknown) => void;
  reject: (err: unknown) => void;
  /** Set while the statement is held back: sends it, and what is held before it, at once. */
  send?: () => void;
}
const laterAnswers = new Map<string, Waiting>();
let lastTag = 0;

/**
 * For a statement whose answer its caller needs, but usually not before the transaction's next
 * statement: the prefix to put before its SQL, and `answer`, which gives that answer. The statement
 * is held back like ANSWER_NOT_NEEDED and goes out with the next statement or the COMMIT; asked
 * for before then, `answer` sends it at once. The answer rejects if the statement (or one held
 * before it) fails, or when a ROLLBACK drops it unsent; nobody need ask for it then.
 */
export function answerLater(): { prefix: string; answer: () => Promise<unknown>; drop(err: unknown): void } {
  const tag = String(++lastTag);
  const answer = new Promise<unknown>((resolve, reject) => laterAnswers.set(tag, { resolve, reject }));
  answer.catch(() => {});
  // For a statement that never reached the connection (its caller failed first).
  const drop = (err: unknown) => void deliver(tag, Promise.reject(err));
  return {
    prefix: `${ANSWER_LATER}${tag} */ `,
    answer: () => {
      laterAnswers.get(tag)?.send?.();
      return answer;
    },
    drop,
  };
}

/** The statement behind a prefix of this module, and answerLater's tag if it has one. */
function unmark(text: string): { statement: string; tag?: string } | undefined {
  if (text.startsWith(ANSWER_NOT_NEEDED)) return { statement: text.slice(ANSWER_NOT_NEEDED.length) };
  if (!text.startsWith(ANSWER_LATER)) return undefined;
  const end = text.indexOf(" */ ");
  return { statement: text.slice(end + 4), tag: text.slice(ANSWER_LATER.length, end) };
}

/** Hands a statement's answer to whoever asked for it with answerLater. */
function deliver(tag: string, answer: Promise<unknown>): Promise<unknown> {
  const waiting = laterAnswers.get(tag);
  laterAnswers.delete(tag);
  if (waiting) answer.then(waiting.resolve, waiting.reject);
  return answer;
}

const DROPPED = () => new Error("the transaction was rolled back before this statement was sent");

export type Query = (text: unknown, values?: unknown, callback?: unknown) => Promise<unknown>;

interface Held {
  text: string;
  values?: unknown;
  /** answerLater's tag: who gets the answer. */
  tag?: string;
}
const BEGIN: Held = { text: "begin" };
// An answer for what was not sent (yet). rowCount is a number because kysely converts it for
// INSERT, UPDATE and DELETE; nobody reads it.
const answered = (command: string) => Promise.resolve({ command, rowCount: 0, rows: [], fields: [] });

/**
 * Wraps a pooled connection's query function. Held back: BEGIN (a transaction that then makes no
 * statement sends nothing at all), and inside a transaction each statement marked
 * ANSWER_NOT_NEEDED, which is answered at once as done, and each one with answerLater's prefix,
 * whose answer goes to its caller once it has gone out. What is held back goes out before the
 * next statement, in the same write (the connection is wrapped in writeTogether), and that
 * statement's caller gets the first error of all of them: a held-back statement that fails makes
 * the next statement, or the COMMIT, fail, so the transaction is rolled back and its caller told,
 * exactly as if it had failed at once. (PostgreSQL
 * answers a COMMIT in a failed transaction with ROLLBACK, not an error: the held-back statement's
 * own error is what reports it.) A ROLLBACK drops what is held back.
 */
export function holdBackStatements(query: Query): Query {
  let inTransaction = false;
  let held: Held[] = [];
  /** Sends the first n held statements; each tagged one's caller gets its answer, or the first error up to it. */
  const send = (n: number): Promise<unknown>[] => {
    const out = held.splice(0, n);
    const answers = out.map((h) => query(h.text, h.values));
    out.forEach((h, i) => {
      if (h.tag) deliver(h.tag, Promise.all(answers.slice(0, i + 1)).then((all) => all[i]));
    });
    return answers;
  };
  return (text, values, callback) => {
    if (typeof callback !== "function" && typeof text === "string") {
      // Only kysely's own transaction statements are this short.
      if (text.length <= 8) {
        const word = text.toLowerCase();
        if (word === "begin") {
          inTransaction = true;
          held = [BEGIN];
          return answered("BEGIN");
        }
        if (word === "commit" || word === "rollback") {
          inTransaction = false;
          // BEGIN still held: nothing of the transaction reached PostgreSQL, unless a COMMIT now
          // carries what is held with it.
          const nothingSent = held[0] === BEGIN && (word === "rollback" || held.length === 1);
          if (word === "rollback" || nothingSent) {
            for (const h of held) if (h.tag) deliver(h.tag, Promise.reject(DROPPED()));
            held = [];
          }
          if (nothingSent) return answered(word.toUpperCase());
        }
      } else {
        const marked = unmark(text);
        if (marked) {
          const { statement, tag } = marked;
          if (!inTransaction) return tag ? deliver(tag, query(statement, values)) : query(statement, values);
          const h: Held = { text: statement, values, tag };
          held.push(h);
          const waiting = tag ? laterAnswers.get(tag) : undefined;
          if (waiting) waiting.send = () => void send(held.indexOf(h) + 1);
          return answered(statement.slice(0, statement.indexOf(" ")).toUpperCase());
        }
      }
    }
    if (held.length === 0) return query(text, values, callback);
    const answers = send(held.length);
    answers.push(query(text, values, callback));
    return Promise.all(answers).then((all) => all[all.length - 1]);
  };
}

/**
 * Statements issued on a connection within one tick leave in one write (pg corks only each
 * statement's own messages): with pipeline mode, what is held back and the statement it goes
 * with, or reads issued together (Store.readTogether), cost one round trip. A lone statement is
 * written at the end of the same tick, before any I/O.
 */
export function writeTogether(stream: { cork(): void; uncork(): void }, query: Query): Query {
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  return (text, values, callback) => {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return query(text, values, callback);
  };
}
