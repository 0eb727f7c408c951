// Round trips to PostgreSQL are most of what a request costs there (each one a socket write and a
// switch to the backend and back on a small machine). Two kinds of statement need not be one:
// a transaction's BEGIN, and a statement inside a transaction whose answer nobody reads (the audit
// record written with every change, or a change that fails by itself when it does not happen:
// Store's …Required). Both are held back and written together with the transaction's next
// statement, or with its COMMIT, in one write (writeTogether): the connection runs in pg's
// pipeline mode, which sends a statement without waiting for the answer to the one before.

/** Prefix of a statement whose answer is not needed (a SQL comment, harmless if it reached PostgreSQL). */
export const ANSWER_NOT_NEEDED = "/* openclm:answer-not-needed */ ";

export type Query = (text: unknown, values?: unknown, callback?: unknown) => Promise<unknown>;

interface Held {
  text: string;
  values?: unknown;
}
const BEGIN: Held = { text: "begin" };
// An answer for what was not sent (yet). rowCount is a number because kysely converts it for
// INSERT, UPDATE and DELETE; nobody reads it.
const answered = (command: string) => Promise.resolve({ command, rowCount: 0, rows: [], fields: [] });

/**
 * Wraps a pooled connection's query function. Held back: BEGIN (a transaction that then makes no
 * statement sends nothing at all), and inside a transaction each statement marked
 * ANSWER_NOT_NEEDED, which is answered at once as done. What is held back goes out before the
 * next statement, in the same write (the connection is wrapped in writeTogether), and that
 * statement's caller gets the first error of all of them: a held-back statement that fails makes
 * the next statement, or the COMMIT, fail, so the transaction is rolled back and its caller told,
 * exactly as if it had failed at once. (PostgreSQL answers a COMMIT in a failed transaction with
 * ROLLBACK, not an error: the held-back statement's own error is what reports it.) A statement
 * that must change a row can be held back too when it fails by itself otherwise (Store's
 * …Required methods). A ROLLBACK drops what is held back.
 */
export function holdBackStatements(query: Query): Query {
  let inTransaction = false;
  let held: Held[] = [];
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
          if (word === "rollback" || nothingSent) held = [];
          if (nothingSent) return answered(word.toUpperCase());
        }
      } else if (text.startsWith(ANSWER_NOT_NEEDED)) {
        const statement = text.slice(ANSWER_NOT_NEEDED.length);
        if (!inTransaction) return query(statement, values);
        held.push({ text: statement, values });
        return answered(statement.slice(0, statement.indexOf(" ")).toUpperCase());
      }
    }
    if (held.length === 0) return query(text, values, callback);
    const answers = held.map((h) => query(h.text, h.values));
    held = [];
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
