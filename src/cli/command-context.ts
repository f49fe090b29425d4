import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';

/** What every command gets: output streams and a way to set the exit code. */
export interface CommandContext {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  setExitCode(code: number): void;
}

/** A CLI command registers itself on the program; one file per command under src/cli/commands/. */
export type CommandModule = (program: Command, ctx: CommandContext) => void;

/** commander argument parser for a bounded whole number. */
export function int(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
    return n;
  };
}
