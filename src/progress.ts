/**
 * Progress feedback: a bar on a TTY, plain lines otherwise, nothing in quiet/--json mode.
 * @module
 */

/** Receives progress of long stages. */
export interface ProgressSink {
  /** A stage starts; `total` units (frames) expected, 0 if unknown. */
  start(stage: string, total: number): void;
  /** `done` units of the current stage are finished. */
  update(done: number): void;
  /** The current stage ended. */
  end(): void;
  /** A log line (shown with --verbose). */
  log(message: string): void;
}

/** Discards everything. */
export const silentProgress: ProgressSink = {
  start() {},
  update() {},
  end() {},
  log() {},
};

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "--:--";
  const m = Math.floor(s / 60), sec = Math.floor(s % 60);
  return `${m}:${String(sec).padStart(2, "0")}`;
}

/** Progress on stderr: a redrawn bar on a TTY, a line per stage otherwise. */
export class StderrProgress implements ProgressSink {
  #stage = "";
  #total = 0;
  #done = 0;
  #t0 = 0;
  #lastDraw = 0;
  readonly #tty: boolean;
  readonly #verbose: boolean;
  readonly #enc = new TextEncoder();

  /** `tty` draws a bar; `verbose` shows log lines. */
  constructor(opts: { tty?: boolean; verbose?: boolean } = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#verbose = opts.verbose ?? false;
  }

  #write(s: string): void {
    Deno.stderr.writeSync(this.#enc.encode(s));
  }

  /** @inheritdoc */
  start(stage: string, total: number): void {
    this.#stage = stage;
    this.#total = total;
    this.#done = 0;
    this.#t0 = performance.now();
    this.#lastDraw = 0;
    if (this.#tty) this.#draw(true);
  }

  /** @inheritdoc */
  update(done: number): void {
    this.#done = done;
    if (this.#tty) this.#draw(false);
  }

  #draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const el = (now - this.#t0) / 1000;
    const rate = el > 0 ? this.#done / el : 0;
    const frac = this.#total > 0 ? Math.min(1, this.#done / this.#total) : 0;
    const width = 24;
    const fill = Math.round(frac * width);
    const bar = "█".repeat(fill) + "░".repeat(width - fill);
    const eta = rate > 0 && this.#total > 0 ? (this.#total - this.#done) / rate : NaN;
    const tot = this.#total > 0 ? `/${this.#total}` : "";
    this.#write(
      `\r\x1b[2K${this.#stage.padEnd(12)} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${this.#done}${tot} frames  ${rate.toFixed(1)} fps  ETA ${fmtTime(eta)}`,
    );
  }

  /** @inheritdoc */
  end(): void {
    const el = (performance.now() - this.#t0) / 1000;
    const rate = el > 0 ? this.#done / el : 0;
    const line = `${this.#stage}: ${this.#done} frames in ${el.toFixed(1)} s (${
      rate.toFixed(1)
    } fps)`;
    this.#write(this.#tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  /** @inheritdoc */
  log(message: string): void {
    if (!this.#verbose) return;
    this.#write(this.#tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
  }
}
