// @ts-check
/** An error a harness process reports as one clear line on stderr before exiting 2 (never a stack trace). */
export class HarnessError extends Error {
  /**
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(message, options) {
    super(message, options);
    this.name = 'HarnessError';
  }
}

/** Short text for a Node system error code, for messages like "cannot listen on A:P: address already in use". */
const CODE_TEXT = /** @type {Record<string, string>} */ ({
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EMFILE: 'too many open files',
});

/**
 * @param {unknown} err
 * @returns {string}
 */
export function describeError(err) {
  if (err && typeof err === 'object') {
    const code = /** @type {{ code?: unknown }} */ (err).code;
    if (typeof code === 'string' && CODE_TEXT[code]) return CODE_TEXT[code];
    const message = /** @type {{ message?: unknown }} */ (err).message;
    if (typeof message === 'string') return message.split('\n')[0] ?? message;
  }
  return String(err);
}
