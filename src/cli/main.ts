import { Command, CommanderError, Help } from 'commander';
import { drain as drainTeardowns } from '../run/lifecycle.js';
import { HARNESS_VERSION } from '../run/version.js';
import { EXIT, MeshconformError } from '../util/errors.js';
import { escapeControls } from '../util/terminal-text.js';
import type { CommandModule } from './command-context.js';

/**
 * Every command of the CLI. A command's module (and what it imports: backends, Docker and Kubernetes clients) is
 * loaded only when that command runs, so `meshconform --help` starts in a fraction of the time; the top-level help
 * is drawn from `term` and `description`, which a test keeps equal to what the modules register.
 */
export interface CommandEntry {
  readonly name: string;
  /** How the top-level help names it: `run [options] [paths...]`. */
  readonly term: string;
  readonly description: string;
  readonly load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    term: 'run [options] [paths...]',
    description: 'run scenarios against a data plane and compare what was observed with what the policies mean',
    load: async () => (await import('./commands/run.js')).runCommandModule,
  },
  {
    name: 'explain',
    term: 'explain [options] <files...>',
    description: 'print the effective mTLS mode of every workload and port (per mesh mode), and the policies that decided it',
    load: async () => (await import('./commands/explain.js')).explainCommand,
  },
  {
    name: 'validate',
    term: 'validate [options] <files...>',
    description: 'load and lint scenarios without running anything',
    load: async () => (await import('./commands/validate.js')).validateCommand,
  },
  {
    name: 'reap',
    term: 'reap [options]',
    description:
      'remove what crashed runs left behind: their processes and temporary folders (keys first), Docker containers and networks (label meshconform.run), network namespaces (meshconform-*) and their host interfaces',
    load: async () => (await import('./commands/reap.js')).reapCommand,
  },
  {
    name: 'compare',
    term: 'compare [options] <old> <new>',
    description: 'compare two report.json files cell by cell: regressions, fixes, new and removed cells (exit 1 on a regression)',
    load: async () => (await import('./commands/compare.js')).compareCommand,
  },
  {
    name: 'mutate',
    term: 'mutate [options] [paths...]',
    description: 'mutation testing: run the suite against the reference data plane with each planted defect; every defect must be caught',
    load: async () => (await import('./commands/mutate.js')).mutateCommand,
  },
  {
    name: 'generate',
    term: 'generate [options]',
    description: 'write random valid scenarios (a differential test of a data plane against the oracle: `meshconform run <dir>`)',
    load: async () => (await import('./commands/generate.js')).generateCommand,
  },
];

/** The command argv names (`run`, or `help run`), if it is one of ours; global options come first if at all. */
function commandNamed(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}

/** Runs the CLI and returns the exit code: 0 all pass, 1 a mismatch, 2 a usage or harness error. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  return mainWith(argv, out, err, { eager: false });
}

/** `eager`: load every command module, as the help-drift test does. */
export async function mainWith(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, options: { readonly eager: boolean }): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('meshconform')
    .description('Conformance harness and chaos tester for service-mesh mTLS (Istio PeerAuthentication)')
    .version(HARNESS_VERSION)
    .exitOverride()
    .showHelpAfterError('(run meshconform --help for usage)')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });
  const ctx = { out, err, setExitCode: (c: number) => void (code = c) };
  const named = commandNamed(argv);
  if (options.eager || named) {
    for (const entry of options.eager ? COMMANDS : [named!]) (await entry.load())(program, ctx);
  } else {
    // Top-level help, --version, or a name commander will reject (with suggestions from these names).
    for (const entry of COMMANDS) program.command(entry.name).description(entry.description);
    const terms = new Map(COMMANDS.map((c) => [c.name, c.term]));
    program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? new Help().subcommandTerm(cmd) });
  }
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
