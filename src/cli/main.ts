import { Command, CommanderError } from 'commander';
import { drainTeardowns } from '../run/teardown.js';
import { HARNESS_VERSION } from '../run/version.js';
import { EXIT, MeshconformError } from '../util/errors.js';
import { escapeControls } from '../util/terminal-text.js';
import type { CommandModule } from './command-context.js';
import { runCommandModule } from './commands/run.js';
import { explainCommand } from './commands/explain.js';
import { validateCommand } from './commands/validate.js';
import { reapCommand } from './commands/reap.js';
import { compareCommand } from './commands/compare.js';
import { mutateCommand } from './commands/mutate.js';
import { generateCommand } from './commands/generate.js';

/** Every command of the CLI; each registers itself. */
const COMMANDS: readonly CommandModule[] = [runCommandModule, explainCommand, validateCommand, reapCommand, compareCommand, mutateCommand, generateCommand];

/** Runs the CLI and returns the exit code: 0 all pass, 1 a mismatch, 2 a usage or harness error. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('meshconform')
    .description('Conformance harness and chaos tester for service-mesh mTLS (Istio PeerAuthentication)')
    .version(HARNESS_VERSION)
    .exitOverride()
    .showHelpAfterError('(run meshconform --help for usage)')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });
  const ctx = { out, err, setExitCode: (c: number) => void (code = c) };
  for (const register of COMMANDS) register(program, ctx);
  // Sub-commands inherit the parent's exit override and output streams.
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    await drainTeardowns();
    if (e instanceof MeshconformError) {
      // Messages carry text from data planes and input files: never raw control characters on a terminal.
      err.write(`meshconform: ${escapeControls(e.message, { keepNewlines: true })}\n`);
    } else {
      err.write(`meshconform: internal error: ${(e as Error)?.message ?? String(e)}\n`);
      if (process.env.MESHCONFORM_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
    }
    return EXIT.usage;
  }
  await drainTeardowns();
  return code;
}
