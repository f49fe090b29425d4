import { commandLine, type Command, type CommandRunner } from './command-runner.js';

/**
 * `--dry-run`: prints every command with its arguments, and what it would read on stdin (every manifest as YAML,
 * Secret data redacted) as a here-document, executing nothing. Commands whose output later steps read answer with
 * the stand-in the caller gave (`dryRunStdout`), so the plan follows the same code path as a real run.
 */
export function createDryRunRunner(out: NodeJS.WritableStream): CommandRunner {
  const print = (cmd: Command, marker: string) => {
    const stdin = cmd.show ?? cmd.input;
    if (stdin === undefined) {
      out.write(`$ ${commandLine(cmd.argv)}\n`);
      return;
    }
    out.write(`$ ${commandLine(cmd.argv)} <<'${marker}'\n${stdin.endsWith('\n') ? stdin : `${stdin}\n`}${marker}\n`);
  };
  return {
    dryRun: true,
    async run(cmd) {
      print(cmd, 'YAML');
      return { exitCode: 0, stdout: cmd.dryRunStdout ?? '', stderr: '' };
    },
    stream(cmd) {
      print(cmd, 'JSON_LINES');
      return {
        send() {},
        lines: { next: async () => ({ done: true, value: undefined }) },
        close: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
        kill() {},
      };
    },
  };
}
