// Questions on the terminal, written to stderr so stdout stays clean for --json. Secrets are
// read with echo muted. Every prompt needs a TTY: a script must pass --*-env options instead of
// hanging on a question nobody sees.
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { InputError, InterruptedError } from "../errors.js";
import { colorsFor } from "./terminal.js";

export interface PromptStreams {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

export class Prompter {
  readonly #input: NodeJS.ReadStream;
  readonly #output: NodeJS.WriteStream;

  constructor(streams: PromptStreams = { input: process.stdin, output: process.stderr }) {
    this.#input = streams.input;
    this.#output = streams.output;
  }

  get interactive(): boolean {
    return Boolean(this.#input.isTTY);
  }

  #require(what: string, hint?: string): void {
    if (!this.interactive) throw new InputError(`cannot ask for ${what}: not a terminal${hint ? ` (${hint})` : ""}`);
  }

  #read(question: string, hidden: boolean): Promise<string> {
    let muted = false;
    const output = new Writable({
      write: (chunk, _enc, done) => {
        if (!muted) this.#output.write(chunk);
        done();
      },
    });
    const rl = createInterface({ input: this.#input, output, terminal: true, historySize: 0 });
    return new Promise<string>((resolve, reject) => {
      let answered = false;
      rl.on("SIGINT", () => {
        this.#output.write("\n");
        rl.close();
        reject(new InterruptedError());
      });
      rl.on("close", () => {
        if (!answered) reject(new InterruptedError());
      });
      rl.question(question, (answer) => {
        answered = true;
        if (hidden) this.#output.write("\n");
        rl.close();
        resolve(answer);
      });
      // Muted after the question is written, so only the typed characters are swallowed.
      muted = hidden;
    });
  }

  async ask(question: string, opts: { hint?: string; default?: string } = {}): Promise<string> {
    this.#require(question.replace(/[:?]\s*$/, ""), opts.hint);
    const suffix = opts.default ? ` [${opts.default}]` : "";
    const answer = await this.#read(`${question}${suffix} `, false);
    return answer.trim() === "" && opts.default !== undefined ? opts.default : answer.trim();
  }

  async askHidden(question: string, hint?: string): Promise<string> {
    this.#require(question.replace(/[:?]\s*$/, ""), hint);
    return this.#read(`${question} `, true);
  }

  async confirm(question: string, defaultYes = true): Promise<boolean> {
    this.#require("a confirmation", "use --yes");
    const answer = (await this.#read(`${question} ${defaultYes ? "[Y/n]" : "[y/N]"} `, false)).trim().toLowerCase();
    if (answer === "") return defaultYes;
    return answer === "y" || answer === "yes";
  }

  /** A numbered list; the answer is a number or an exact (case-insensitive) label. */
  async choose<T>(question: string, items: { label: string; value: T }[], hint?: string): Promise<T> {
    this.#require(question.replace(/[:?]\s*$/, ""), hint);
    const colors = colorsFor(this.#output);
    for (;;) {
      this.#output.write(`${question}\n`);
      items.forEach((item, i) => this.#output.write(`  ${colors.bold(String(i + 1))}) ${item.label}\n`));
      const answer = (await this.#read(`Choose 1-${items.length}: `, false)).trim();
      const n = Number(answer);
      if (Number.isInteger(n) && n >= 1 && n <= items.length) return items[n - 1]!.value;
      const byLabel = items.find((i) => i.label.toLowerCase().startsWith(answer.toLowerCase()) && answer !== "");
      if (byLabel) return byLabel.value;
      this.#output.write(colors.yellow(`"${answer}" is not one of the choices\n`));
    }
  }
}
