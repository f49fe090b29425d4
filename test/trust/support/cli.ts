import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../../src/cli/main.js';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'bin/meshconform.js');

export interface CliResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** What the run left in its private TMPDIR (tsx's own cache excluded). */
  leftovers: string[];
}

/**
 * The real CLI in its own process, with a private TMPDIR; `timeoutMs` bounds it (a hang fails the test). `$OUT` in an
 * argument becomes a private output folder, removed afterwards (reports never land in the repository's reports/).
 */
export async function cli(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'mc-trust-tmp-'));
  const out = mkdtempSync(join(tmpdir(), 'mc-trust-out-'));
  try {
    const r = await execa(process.execPath, [bin, ...args.map((a) => a.replace('$OUT', out))], {
      cwd: root,
      env: { ...options.env, TMPDIR: tmp, NO_COLOR: '1' },
      reject: false,
      timeout: options.timeoutMs ?? 120_000,
    });
    if (r.timedOut) throw new Error(`meshconform ${args.join(' ')} did not finish within ${options.timeoutMs ?? 120_000} ms`);
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, leftovers: readdirSync(tmp).filter((n) => !n.startsWith('tsx-')) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    // Bounded: a runaway message must not exhaust memory in a fuzz loop.
    if (this.text.length < 1_000_000) this.text += chunk.toString();
    done();
  }
}

/** `main()` in-process (fast): exit code and what it wrote. Rejects if main throws (it never should) or exceeds `timeoutMs`. */
export async function inProcess(argv: readonly string[], timeoutMs = 10_000): Promise<{ code: number; out: string; err: string }> {
  const out = new Capture();
  const err = new Capture();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`main(${JSON.stringify(argv)}) did not return within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const code = await Promise.race([main([...argv], out, err), deadline]);
    return { code, out: out.text, err: err.text };
  } finally {
    clearTimeout(timer);
  }
}
