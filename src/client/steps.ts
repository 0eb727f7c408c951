// Steps report what they do as events, so the enrollment logic knows nothing about terminals
// and the CLI, tests or a future GUI each render progress their own way.

export type StepEvent =
  | { type: "start"; id: string; title: string }
  | { type: "done"; id: string; title: string; ms: number; detail?: string }
  | { type: "fail"; id: string; title: string; ms: number; error: unknown }
  | { type: "notice"; message: string };

export type StepListener = (event: StepEvent) => void;

export class StepRunner {
  constructor(private readonly listener: StepListener = () => {}) {}

  notice(message: string): void {
    this.listener({ type: "notice", message });
  }

  /** `detail` turns the step's result into a note for the finished line (e.g. a key size). */
  async run<T>(id: string, title: string, fn: () => Promise<T> | T, detail?: (value: T) => string | undefined): Promise<T> {
    const started = performance.now();
    this.listener({ type: "start", id, title });
    try {
      const value = await fn();
      const d = detail?.(value);
      this.listener({ type: "done", id, title, ms: performance.now() - started, ...(d ? { detail: d } : {}) });
      return value;
    } catch (error) {
      this.listener({ type: "fail", id, title, ms: performance.now() - started, error });
      throw error;
    }
  }
}
