// @ts-check
/**
 * Incremental check that a byte stream starts with an HTTP/1.x request line (`METHOD SP target SP HTTP/1.d CRLF`).
 * Shared by the reference sidecar (HTTP codec stand-in) and the echo app (HTTP vs raw TCP). Decides as early as
 * possible: the first byte that cannot belong to a request line makes the answer `bad`.
 */

/** Longest request line accepted; longer is a protocol error (Envoy would answer 414/431). */
export const MAX_REQUEST_LINE = 16 * 1024;

/** @typedef {{ state: 'ok', lineEnd: number } | { state: 'need-more' } | { state: 'bad', reason: string }} RequestLineCheck */

// RFC 9110 tchar
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

const PROTO = Buffer.from('HTTP/1.', 'latin1');

/**
 * @param {Buffer} buf bytes received so far
 * @param {number} [maxLine]
 * @returns {RequestLineCheck}
 */
export function checkRequestLine(buf, maxLine = MAX_REQUEST_LINE) {
  const n = Math.min(buf.length, maxLine);
  /** @type {RequestLineCheck} */
  const more = buf.length >= maxLine ? { state: 'bad', reason: 'request line too long' } : { state: 'need-more' };
  let i = 0;
  while (i < n && TCHAR[/** @type {number} */ (buf[i])]) i++;
  if (i === n) return more;
  if (i === 0 || buf[i] !== 0x20) return { state: 'bad', reason: 'not an HTTP method token' };
  i++;
  const targetStart = i;
  while (i < n && /** @type {number} */ (buf[i]) > 0x20 && /** @type {number} */ (buf[i]) < 0x7f) i++;
  if (i === n) return more;
  if (i === targetStart || buf[i] !== 0x20) return { state: 'bad', reason: 'bad request target' };
  i++;
  for (let k = 0; k < PROTO.length; k++, i++) {
    if (i === n) return more;
    if (buf[i] !== PROTO[k]) return { state: 'bad', reason: 'not HTTP/1.x' };
  }
  if (i === n) return more;
  const minor = /** @type {number} */ (buf[i]);
  if (minor < 0x30 || minor > 0x39) return { state: 'bad', reason: 'not HTTP/1.x' };
  i++;
  if (i === n) return more;
  if (buf[i] === 0x0d) {
    i++;
    if (i === n) return more;
  }
  if (buf[i] !== 0x0a) return { state: 'bad', reason: 'garbage after HTTP version' };
  return { state: 'ok', lineEnd: i + 1 };
}
