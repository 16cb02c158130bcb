/**
 * vidkompy command-line entry point.
 * @module
 */
import { runCli } from "./src/cli.ts";
import { ExitCode } from "./src/errors.ts";
import { killAllChildren, removeTempFiles } from "./src/process.ts";

/** Stops every ffmpeg child, deletes the temporary output, says so in one line, exits 130. */
function onSignal(name: string): () => void {
  return () => {
    killAllChildren();
    removeTempFiles();
    try {
      // on a terminal, first clear the progress bar drawn on the current line
      const clear = Deno.stderr.isTerminal() ? "\r\x1b[2K" : "";
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `${clear}vidkompy: interrupted by ${name}; no output was written, run again to finish\n`,
        ),
      );
    } catch {
      // stderr gone
    }
    Deno.exit(ExitCode.Interrupted);
  };
}

if (import.meta.main) {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) Deno.addSignalListener(s, onSignal(s));
  const code = await runCli(Deno.args);
  killAllChildren();
  removeTempFiles();
  Deno.exit(code);
}
