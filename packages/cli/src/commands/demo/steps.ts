/**
 * The demo's progress on stderr: each step one line, `✔ what it did  120 ms`, and while it
 * runs a spinner with what it is doing — on a terminal only (clig.dev: nothing spins in a
 * pipe). Ctrl-C (the `signal`) ends the step being waited for at once with {@link DemoCancelled};
 * whatever it had started is stopped by the session's cleanup.
 */
import { paint } from '../../output.js';

/** Thrown by a step when the run was cancelled (Ctrl-C or SIGTERM): exit 130. */
export class DemoCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'DemoCancelled';
  }
}

/** A step that failed: which one, and the error it failed with. */
export class DemoStepFailed extends Error {
  readonly step: string;
  /** What the cause said. */
  readonly reason: string;
  constructor(step: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${step}: ${reason}`, { cause });
    this.name = 'DemoStepFailed';
    this.step = step;
    this.reason = reason;
  }
}

export interface StepsOptions {
  stream?: NodeJS.WriteStream;
  color: boolean;
  /** Draw a spinner (stderr is a terminal, and neither --json nor --quiet). */
  spinner: boolean;
  /** No lines at all (--quiet). */
  quiet: boolean;
  signal: AbortSignal;
  /** Clock, for tests. */
  now?: () => number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Milliseconds as a step line shows them: `85 ms`, `1.4 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export class Steps {
  private readonly stream: NodeJS.WriteStream;
  private readonly now: () => number;
  /** The work of the step that was running when Ctrl-C came (it goes on without us). */
  private abandoned: Promise<unknown> | undefined;
  private spinning = false;

  constructor(private readonly options: StepsOptions) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
  }

  /** A line as it is (a heading, a note); above the spinner, which goes on below it. */
  line(text: string): void {
    if (this.options.quiet) return;
    this.stream.write(`${this.spinning ? '\r\u001b[2K' : ''}${text}\n`);
  }

  /** `✔ text` (with the time it took, dim). */
  done(text: string, ms?: number): void {
    const took = ms === undefined ? '' : `  ${paint(this.options.color, 'dim', formatDuration(ms))}`;
    this.line(`${paint(this.options.color, 'green', '✔')} ${text}${took}`);
  }

  /**
   * Run one step: spin with `doing` while `fn` runs, then print `did(result)` — one line, or
   * several for a step that did several things at once. A failure prints `✖ doing` and is
   * thrown as {@link DemoStepFailed}; Ctrl-C throws {@link DemoCancelled} without waiting for `fn`.
   */
  async run<T>(doing: string, fn: () => Promise<T>, did: (result: T) => string | string[]): Promise<T> {
    const { signal } = this.options;
    if (signal.aborted) throw new DemoCancelled();
    const started = this.now();
    const stop = this.spin(doing);
    let result: T;
    try {
      result = await new Promise<T>((resolve, reject) => {
        const work = fn();
        const onAbort = () => {
          this.abandoned = work.catch(() => {});
          reject(new DemoCancelled());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        work.then(
          (value) => {
            signal.removeEventListener('abort', onAbort);
            resolve(value);
          },
          (err: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      });
    } catch (err) {
      stop();
      if (err instanceof DemoCancelled || signal.aborted) {
        this.line(`${paint(this.options.color, 'yellow', '■')} ${doing} — cancelled`);
        throw new DemoCancelled();
      }
      this.line(`${paint(this.options.color, 'red', '✖')} ${doing}`);
      throw new DemoStepFailed(doing, err);
    }
    stop();
    const ms = this.now() - started;
    const lines = did(result);
    const list = Array.isArray(lines) ? lines : [lines];
    list.forEach((l, i) => this.done(l, i === list.length - 1 ? ms : undefined));
    return result;
  }

  /**
   * Wait (at most `ms`) for the work of a step cancelled mid-way, e.g. a `peer add` the gateway
   * is still finishing: stopping a gateway with a request in flight waits out its whole
   * shutdown deadline, stopping it once the answer is out takes milliseconds.
   */
  async settle(ms: number): Promise<void> {
    if (this.abandoned === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.abandoned, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  /** Start the spinner; returns what erases it. */
  private spin(text: string): () => void {
    if (!this.options.spinner || this.options.quiet) return () => {};
    const stream = this.stream;
    let frame = 0;
    const draw = () => {
      const width = Math.max(20, (stream.columns ?? 80) - 3);
      const full = `${text}…`;
      const shown = full.length > width ? `${full.slice(0, width - 1)}…` : full;
      stream.write(`\r\u001b[2K${paint(this.options.color, 'cyan', FRAMES[frame++ % FRAMES.length]!)} ${shown}`);
    };
    stream.write('\u001b[?25l');
    draw();
    this.spinning = true;
    const timer = setInterval(draw, 80);
    return () => {
      clearInterval(timer);
      this.spinning = false;
      stream.write('\r\u001b[2K\u001b[?25h');
    };
  }
}
