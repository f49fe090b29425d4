import { open, stat } from 'node:fs/promises';

/** Inputs named on the command line (profiles, implementation options, report.json) are never legitimately bigger. */
export const MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Reads a UTF-8 file named by a user, refusing what `readFile` would hang on or read without end: a FIFO or a
 * terminal (blocks forever), a device such as /dev/zero (never ends), a directory, or a file over `maxBytes`.
 * Errors are plain Errors with a short message; callers wrap them in their own typed error naming the file.
 */
export async function readTextFile(file: string, maxBytes = MAX_INPUT_FILE_BYTES): Promise<string> {
  const st = await stat(file); // stat, not open: opening a FIFO blocks until a writer appears
  if (st.isDirectory()) throw new Error('is a directory');
  if (!st.isFile()) throw new Error('is not a regular file');
  if (st.size > maxBytes) throw new Error(`is too large (${st.size} bytes; at most ${maxBytes} are read)`);
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let length = 0;
    // Read at most maxBytes + 1 even if the file grew after the stat.
    while (length < buf.length) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw new Error(`is too large (more than ${maxBytes} bytes)`);
    return buf.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}
