import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from '../model/index.js';
import { attachmentPath, EVIDENCE_DIR } from './evidence-paths.js';

/**
 * Writes every scenario attachment of the run to `<dir>/evidence/<id>.txt|.json` (report.json keeps them too). An id
 * that is not `[a-z0-9-]+` is not written; an id seen twice keeps its first text (files are created, never replaced,
 * never through a link). Returns the paths written, relative to `dir`.
 */
export async function writeAttachments(result: RunResult, dir: string): Promise<string[]> {
  const written = new Set<string>();
  for (const s of result.scenarios) {
    for (const a of s.attachments ?? []) {
      const rel = attachmentPath(a);
      if (rel === undefined || written.has(rel)) continue;
      if (written.size === 0) await mkdir(join(dir, EVIDENCE_DIR), { recursive: true });
      const fh = await open(join(dir, rel), 'wx', 0o644).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return undefined;
        throw err;
      });
      if (!fh) continue;
      try {
        await fh.writeFile(a.text, 'utf8');
      } finally {
        await fh.close();
      }
      written.add(rel);
    }
  }
  return [...written];
}
