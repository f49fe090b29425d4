// Reading the echo application's receipts (the probe ids it received), where a backend keeps them.
import { open, type FileHandle } from 'node:fs/promises';
import type { AppReceipt } from '../model/index.js';

/** Bytes of a receipts file read at most (the echo app writes at most 20 000 short lines). */
const MAX_RECEIPTS_BYTES = 16 * 1024 * 1024;
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * The receipts in the echo application's JSON-lines text. A line that is not a well-formed receipt is skipped: a
 * receipt can only add evidence against a data plane, so a damaged one is dropped, never guessed at.
 */
export function parseReceipts(text: string): AppReceipt[] {
  const out: AppReceipt[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
    const r = v as Record<string, unknown>;
    const { id, workload, port, received } = r;
    if (typeof id !== 'string' || id === '' || CONTROL.test(id)) continue;
    if (typeof workload !== 'string' || !workload.includes('/')) continue;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    if (received !== 'plaintext' && received !== 'tls') continue;
    out.push({ id, workload, port, received });
  }
  return out;
}

/** Reads a receipts file; a missing file is no receipts (nothing reached the app, or the app wrote none). */
export async function readReceiptsFile(file: string): Promise<AppReceipt[]> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    // Sized to the file (with room for lines written meanwhile): a zero-filled 16 MiB buffer per read cost more than
    // the reading, once per probe round of every scenario.
    const { size: now } = await handle.stat();
    const buf = Buffer.allocUnsafe(Math.min(MAX_RECEIPTS_BYTES, now + 64 * 1024));
    let size = 0;
    while (size < buf.length) {
      const { bytesRead } = await handle.read(buf, size, buf.length - size, size);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    return parseReceipts(buf.subarray(0, size).toString('utf8'));
  } finally {
    await handle.close();
  }
}
