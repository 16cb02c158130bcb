/**
 * vidkompy command-line entry point.
 * @module
 */
import { runCli } from "./src/cli.ts";
import { ExitCode } from "./src/errors.ts";
import { killAllChildren, removeTempFiles } from "./src/process.ts";

function onSignal(name: string): () => void {
  return () => {
    killAllChildren();
    removeTempFiles();
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(`\nvidkompy: interrupted by ${name}; no output was written\n`));
    } catch {
      // stderr gone
    }
    Deno.exit(ExitCode.Interrupted);
  };
}

if (import.meta.main) {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) Deno.addSignalListener(s, onSignal(s));
  const code = await runCli(Deno.args);
  killAllChildren();
  removeTempFiles();
  Deno.exit(code);
}
