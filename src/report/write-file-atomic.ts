import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Characters of pieces gathered before one write: large writes, and never much of a streamed report in memory. */
const WRITE_CHARS = 1 << 20;

/**
 * Writes `data` to `path` via a temp file in the same directory and a rename, so a crash never leaves half a report.
 * `data` may come in pieces (jsonChunks): they are written as they come, and the file appears only once all are.
 */
export async function writeFileAtomic(path: string, data: string | Iterable<string>): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      if (typeof data === 'string') await fh.writeFile(data, 'utf8');
      else await writePieces(fh, data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function writePieces(fh: FileHandle, pieces: Iterable<string>): Promise<void> {
  let batch: string[] = [];
  let chars = 0;
  const flush = async (last: boolean) => {
    let text = batch.join('');
    // A surrogate pair split between pieces is encoded whole, with the next write.
    const end = text.charCodeAt(text.length - 1);
    const held = !last && end >= 0xd800 && end <= 0xdbff ? text.slice(-1) : '';
    if (held !== '') text = text.slice(0, -1);
    batch = held === '' ? [] : [held];
    chars = held.length;
    const bytes = Buffer.from(text, 'utf8');
    for (let at = 0; at < bytes.length; ) at += (await fh.write(bytes, at, bytes.length - at)).bytesWritten;
  };
  for (const piece of pieces) {
    batch.push(piece);
    chars += piece.length;
    if (chars >= WRITE_CHARS) await flush(false);
  }
  await flush(true);
}
