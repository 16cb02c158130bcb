/**
 * Error type and exit codes shared by the library and the CLI.
 * @module
 */

/** Process exit codes documented in the README. */
export const ExitCode = {
  /** Everything went well. */
  Ok: 0,
  /** A runtime failure: bad input file, ffmpeg failure, unwritable output … */
  Failure: 1,
  /** The command line was wrong. */
  Usage: 2,
  /** fg and bg do not show the same footage (no alignment found). */
  NoAlignment: 3,
  /** Stopped by SIGINT / SIGTERM. */
  Interrupted: 130,
} as const;

/** One of the documented exit codes. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/**
 * An error meant for the user: `message` is one line saying what went wrong and what to do.
 * `exitCode` is the process exit code the CLI uses for it.
 */
export class VidkompyError extends Error {
  /** Exit code for the CLI. */
  readonly exitCode: ExitCodeValue;
  /** Extra detail (e.g. ffmpeg's stderr tail), shown with --verbose. */
  readonly detail?: string;

  /** Creates an error with a user-facing one-line message. */
  constructor(
    message: string,
    exitCode: ExitCodeValue = ExitCode.Failure,
    options?: { detail?: string; cause?: unknown },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "VidkompyError";
    this.exitCode = exitCode;
    this.detail = options?.detail;
  }
}

/** Thrown when the run is interrupted by a signal. */
export class InterruptedError extends VidkompyError {
  /** Creates the error for the given signal name. */
  constructor(signal: string) {
    super(`interrupted by ${signal}; no output was written`, ExitCode.Interrupted);
    this.name = "InterruptedError";
  }
}

/** A usage error (exit code 2). */
export function usageError(message: string): VidkompyError {
  return new VidkompyError(message, ExitCode.Usage);
}
