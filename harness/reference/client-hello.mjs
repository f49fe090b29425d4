// @ts-check
/**
 * Minimal TLS ClientHello parser, the stand-in for Envoy's tls_inspector: decides whether the first bytes of a
 * connection are a TLS handshake and, if so, which ALPN protocols the client offers. It never throws: garbage is
 * `not-tls` (the plaintext path), an incomplete hello is `need-more`, an oversized one is `too-large`.
 * A hello fragmented over several handshake records is reassembled (bounded by MAX_CLIENT_HELLO).
 */

/** Envoy's tls_inspector default max_client_hello_size is 64 KiB. */
export const MAX_CLIENT_HELLO = 64 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const MAX_RECORD = 16384 + 2048;

/**
 * @typedef {{ kind: 'client-hello', alpn: string[] | null, serverName: string | null, consumed: number }
 *   | { kind: 'need-more' }
 *   | { kind: 'not-tls', reason: string }
 *   | { kind: 'too-large' }} ClientHelloResult
 * `alpn` is null when the client sent no ALPN extension; `consumed` is the number of record bytes the hello used.
 */

/**
 * @param {Buffer} buf the first bytes of a connection
 * @returns {ClientHelloResult}
 */
export function parseClientHello(buf) {
  // Look at the handshake header early, so a bogus or oversized hello is refused before it is all buffered.
  if (buf.length >= 9 && buf[0] === RECORD_HANDSHAKE && buf[1] === 0x03 && buf.readUInt16BE(3) >= 4) {
    if (buf[5] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'not-tls', reason: 'first handshake message is not a ClientHello' };
    if (buf.readUIntBE(6, 3) > MAX_CLIENT_HELLO) return { kind: 'too-large' };
  }
  // Reassemble the handshake message from consecutive handshake records.
  /** @type {Buffer[]} */
  const fragments = [];
  let handshakeLen = 0;
  let off = 0;
  /** @type {number | null} */
  let messageLen = null;
  for (;;) {
    if (buf.length - off < 5) return buf.length > MAX_CLIENT_HELLO + 5 ? { kind: 'too-large' } : { kind: 'need-more' };
    if (buf[off] !== RECORD_HANDSHAKE) return { kind: 'not-tls', reason: 'not a handshake record' };
    if (buf[off + 1] !== 0x03) return { kind: 'not-tls', reason: 'bad record version' };
    const recLen = buf.readUInt16BE(off + 3);
    if (recLen === 0 || recLen > MAX_RECORD) return { kind: 'not-tls', reason: 'bad record length' };
    if (buf.length - off - 5 < recLen) {
      return handshakeLen + (buf.length - off - 5) > MAX_CLIENT_HELLO + 4 ? { kind: 'too-large' } : { kind: 'need-more' };
    }
    fragments.push(buf.subarray(off + 5, off + 5 + recLen));
    handshakeLen += recLen;
    off += 5 + recLen;
    if (messageLen === null && handshakeLen >= 4) {
      const head = fragments.length === 1 ? /** @type {Buffer} */ (fragments[0]) : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'not-tls', reason: 'first handshake message is not a ClientHello' };
      messageLen = head.readUIntBE(1, 3);
      if (messageLen > MAX_CLIENT_HELLO) return { kind: 'too-large' };
    }
    if (messageLen !== null && handshakeLen >= messageLen + 4) break;
    if (handshakeLen > MAX_CLIENT_HELLO + 4) return { kind: 'too-large' };
  }
  const message = Buffer.concat(fragments).subarray(4, 4 + messageLen);
  const parsed = parseHelloBody(message);
  if (typeof parsed === 'string') return { kind: 'not-tls', reason: parsed };
  return { kind: 'client-hello', alpn: parsed.alpn, serverName: parsed.serverName, consumed: off };
}

/**
 * @param {Buffer} body ClientHello body (after the 4-byte handshake header)
 * @returns {{ alpn: string[] | null, serverName: string | null } | string} the result or why it is malformed
 */
function parseHelloBody(body) {
  let p = 0;
  /** @param {number} n */
  const need = (n) => p + n <= body.length;
  if (!need(2 + 32 + 1)) return 'truncated ClientHello';
  if (body[p] !== 0x03) return 'bad client version';
  p += 2 + 32;
  const sessionIdLen = /** @type {number} */ (body[p]);
  p += 1;
  if (sessionIdLen > 32 || !need(sessionIdLen + 2)) return 'bad session id';
  p += sessionIdLen;
  const suitesLen = body.readUInt16BE(p);
  p += 2;
  if (suitesLen < 2 || suitesLen % 2 !== 0 || !need(suitesLen + 1)) return 'bad cipher suites';
  p += suitesLen;
  const compLen = /** @type {number} */ (body[p]);
  p += 1;
  if (compLen < 1 || !need(compLen)) return 'bad compression methods';
  p += compLen;
  /** @type {string[] | null} */
  let alpn = null;
  /** @type {string | null} */
  let serverName = null;
  if (p === body.length) return { alpn, serverName }; // no extensions at all
  if (!need(2)) return 'truncated extensions';
  const extTotal = body.readUInt16BE(p);
  p += 2;
  if (p + extTotal !== body.length) return 'bad extensions length';
  /** @type {Set<number>} */
  const seen = new Set();
  while (p < body.length) {
    if (!need(4)) return 'truncated extension';
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    p += 4;
    if (!need(len)) return 'truncated extension data';
    if (seen.has(type)) return 'duplicate extension';
    seen.add(type);
    const data = body.subarray(p, p + len);
    p += len;
    if (type === EXT_ALPN) {
      const list = parseAlpn(data);
      if (list === null) return 'bad ALPN extension';
      alpn = list;
    } else if (type === EXT_SERVER_NAME) {
      serverName = parseServerName(data);
    }
  }
  return { alpn, serverName };
}

/**
 * @param {Buffer} data
 * @returns {string[] | null}
 */
function parseAlpn(data) {
  if (data.length < 2 || data.readUInt16BE(0) !== data.length - 2 || data.length === 2) return null;
  /** @type {string[]} */
  const out = [];
  let p = 2;
  while (p < data.length) {
    const len = /** @type {number} */ (data[p]);
    p += 1;
    if (len === 0 || p + len > data.length) return null;
    out.push(data.subarray(p, p + len).toString('latin1'));
    p += len;
  }
  return out;
}

/**
 * @param {Buffer} data
 * @returns {string | null} the first host_name entry; null if absent or malformed (SNI never decides anything here)
 */
function parseServerName(data) {
  if (data.length < 5 || data.readUInt16BE(0) !== data.length - 2) return null;
  if (data[2] !== 0) return null;
  const len = data.readUInt16BE(3);
  if (5 + len > data.length) return null;
  return data.subarray(5, 5 + len).toString('latin1');
}
