import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { BackendError } from '../../util/errors.js';

/** Full path of `name` on PATH, or undefined. */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs `ip [-n netns] args…`; rejects with a BackendError quoting ip's own message. */
export async function ip(args: readonly string[], netns?: string): Promise<string> {
  const argv = [...(netns !== undefined ? ['-n', netns] : []), ...args];
  const r = await execa('ip', argv, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new BackendError(`ip ${argv.join(' ')} failed: ${oneLine(r.stderr || r.stdout || (r.message ?? ''))}`);
  return r.stdout;
}

/** Several `ip` commands in one process (`ip -batch -`), all in `netns` (or the root namespace); stops at the first error. */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const argv = [...(netns !== undefined ? ['-n', netns] : []), '-batch', '-'];
  const r = await execa('ip', argv, { reject: false, input: `${lines.join('\n')}\n` });
  if (r.exitCode !== 0) throw new BackendError(`ip ${argv.join(' ')} failed${netns !== undefined ? ` in ${netns}` : ''}: ${oneLine(r.stderr || r.stdout || (r.message ?? ''))}`);
}

/** Names of every network namespace `ip netns` knows. */
export async function listNetns(): Promise<string[]> {
  const out = await ip(['-j', 'netns', 'list']);
  if (!out.trim()) return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

/** Interfaces of the root namespace, with their alias. */
export async function hostLinks(): Promise<{ name: string; alias: string | undefined }[]> {
  const out = await ip(['-j', 'link', 'show']);
  if (!out.trim()) return [];
  return (JSON.parse(out) as { ifname: string; ifalias?: string }[]).map((l) => ({ name: l.ifname, alias: l.ifalias }));
}

/** PIDs of the processes in a namespace (empty when it is gone). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', netns], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** `iptables -w … args` inside a namespace. */
export async function iptablesIn(netns: string, args: readonly string[]): Promise<string> {
  const argv = ['netns', 'exec', netns, 'iptables', '-w', '5', ...args];
  const r = await execa('ip', argv, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new BackendError(`iptables ${args.join(' ')} in ${netns} failed: ${oneLine(r.stderr || r.stdout || (r.message ?? ''))}`);
  return r.stdout;
}

export function oneLine(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
}
