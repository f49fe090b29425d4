// @ts-check
/**
 * meshconform echo application: the workload behind every data plane. It tells the probe what reached it.
 *
 *   MESHCONFORM_ECHO_CONFIG=/path/echo.json node harness/echo/echo-app.mjs
 *   { "listeners": [{ "workload": "ns/name", "port": 8080, "address": "127.0.0.1", "appPort": 0 }],
 *     "tls": { "certFile": "...", "keyFile": "..." }, "receiptsFile": "/path/receipts.jsonl" }
 *
 * Prints one line `{"ready":true,"ports":{"<workload>|<port>":<appPort>,...}}` once every listener listens.
 * SIGHUP re-reads the config and replaces every listener and the receipts file (the harness reuses the app for the
 * next scenario), then prints the ready line again, or `reload-failed` with a stderr line.
 * Per connection: a TLS record (0x16) is terminated here with the app's own (non-mesh) certificate and reported as
 * received "tls" (the data plane passed TLS through); anything else is "plaintext". An HTTP/1.x request gets a
 * 200 with the EchoReply JSON; other bytes get one line `MESHCONFORM-ECHO <json>\n` after the first newline.
 *
 * Receipts (optional `receiptsFile`): before answering a probe (its `MESHCONFORM-PROBE <id>` line or
 * `x-meshconform-probe: <id>` header) the app appends `{"id","workload","port","received"}` as one JSON line, so the
 * harness learns what reached the application even when a data plane swallows the answer. At most MAX_RECEIPTS lines.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { checkRequestLine } from '../common/request-line.mjs';

const PROGRAM = 'echo-app';
const MAX_INPUT = 64 * 1024;
const IDLE_MS = 10_000;
const LINGER_MS = 2000;
const HEADERS_END = Buffer.from('\r\n\r\n');
const PROBE_LINE_PREFIX = 'MESHCONFORM-PROBE ';
/** Receipts kept per process (bounded: a data plane replaying traffic cannot fill the disk). */
const MAX_RECEIPTS = 20_000;
const MAX_ID = 512;

/** @typedef {{ workload: string, port: number, address: string, appPort: number }} Listener */
/** @typedef {{ workload: string, port: number, received: 'plaintext' | 'tls', protocol: 'tcp' | 'http', xfcc?: string }} EchoReply */

/** @type {Set<net.Socket>} */
const sockets = new Set();
/** @type {net.Server[]} */
const servers = [];
/** @type {Map<number, { address: string, listener: Listener }[]>} actual app port → listeners, to place a TLS socket */
const byAppPort = new Map();
let stopping = false;
/** @type {string | undefined} where receipts go; unset after a write failure (no receipts: no evidence, no harm) */
let receiptsFile;
let receiptCount = 0;
/** @type {number | undefined} */
let receiptsFd;

try {
  await main();
} catch (err) {
  process.stderr.write(`${PROGRAM}: ${err instanceof HarnessError ? err.message : `internal error: ${err instanceof Error ? err.stack : String(err)}`}\n`);
  process.exit(2);
}

async function main() {
  const file = process.env.MESHCONFORM_ECHO_CONFIG;
  if (!file) throw new HarnessError('MESHCONFORM_ECHO_CONFIG must name the echo config file');
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // A reused app (the harness serves the next scenario with it): every listener is replaced; queued, never fatal.
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading
      .then(() => serveConfig(loadConfig(file)))
      .catch((err) => {
        process.stderr.write(`${PROGRAM}: reload failed: ${describeError(err)}\n`);
        process.stdout.write('reload-failed\n');
      });
  });
  await serveConfig(loadConfig(file));
}

/**
 * Listens where `config` says (after closing every earlier listener) and prints the ready line with the app ports.
 * @param {ReturnType<typeof loadConfig>} config
 */
async function serveConfig(config) {
  let tlsServer;
  try {
    // No ALPN configuration: the app ignores whatever the client offers instead of failing the handshake.
    tlsServer = new tls.Server({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile), handshakeTimeout: IDLE_MS });
  } catch (err) {
    throw new HarnessError(`cannot load the echo TLS certificate (${config.tls.certFile}, ${config.tls.keyFile}): ${describeError(err)}`, { cause: err });
  }
  tlsServer.on('tlsClientError', (_err, s) => s.destroy());
  tlsServer.on('secureConnection', (s) => {
    track(s);
    const listener = listenerFor(s.localPort ?? -1, s.localAddress ?? '');
    if (!listener) {
      s.destroy();
      return;
    }
    serve(s, listener, 'tls');
  });
  for (const server of servers.splice(0)) server.close();
  byAppPort.clear();
  if (receiptsFd !== undefined) closeSync(receiptsFd);
  receiptsFd = undefined;
  receiptsFile = config.receiptsFile;
  receiptCount = 0;

  /** @type {Record<string, number>} */
  const ports = {};
  await Promise.all(
    config.listeners.map(async (l) => {
      const actual = await listen(l, /** @type {tls.Server} */ (tlsServer));
      ports[`${l.workload}|${l.port}`] = actual;
      const list = byAppPort.get(actual) ?? [];
      list.push({ address: l.address, listener: l });
      byAppPort.set(actual, list);
    }),
  );
  process.stdout.write(`${JSON.stringify({ ready: true, ports })}\n`);
}

/**
 * @param {string} file
 * @returns {{ listeners: Listener[], tls: { certFile: string, keyFile: string }, receiptsFile?: string }}
 */
function loadConfig(file) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HarnessError(`cannot read echo config ${file}: ${describeError(err)}`, { cause: err });
  }
  const bad = (/** @type {string} */ what) => new HarnessError(`echo config ${file}: ${what}`);
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  if (!Array.isArray(raw.listeners) || raw.listeners.length === 0) throw bad('listeners must be a non-empty array');
  /** @type {Set<string>} */
  const seen = new Set();
  const listeners = raw.listeners.map((/** @type {any} */ l, /** @type {number} */ i) => {
    if (typeof l !== 'object' || l === null) throw bad(`listeners[${i}] is not an object`);
    if (typeof l.workload !== 'string' || !l.workload.includes('/')) throw bad(`listeners[${i}].workload must be "namespace/name"`);
    if (!Number.isInteger(l.port) || l.port < 1 || l.port > 65535) throw bad(`listeners[${i}].port must be a port 1-65535`);
    if (typeof l.address !== 'string' || net.isIP(l.address) === 0) throw bad(`listeners[${i}].address must be an IP address`);
    const appPort = l.appPort ?? 0;
    if (!Number.isInteger(appPort) || appPort < 0 || appPort > 65535) throw bad(`listeners[${i}].appPort must be 0-65535`);
    const key = `${l.workload}|${l.port}`;
    if (seen.has(key)) throw bad(`listener ${key} declared twice`);
    seen.add(key);
    return { workload: l.workload, port: l.port, address: l.address, appPort };
  });
  const t = raw.tls;
  if (typeof t !== 'object' || t === null || typeof t.certFile !== 'string' || typeof t.keyFile !== 'string') {
    throw bad('tls must be { certFile, keyFile }');
  }
  if (raw.receiptsFile !== undefined && (typeof raw.receiptsFile !== 'string' || raw.receiptsFile === '')) throw bad('receiptsFile must be a file path');
  return { listeners, tls: { certFile: t.certFile, keyFile: t.keyFile }, ...(raw.receiptsFile ? { receiptsFile: raw.receiptsFile } : {}) };
}

/**
 * @param {Listener} l
 * @param {tls.Server} tlsServer
 * @returns {Promise<number>} the actual port
 */
function listen(l, tlsServer) {
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    if (stopping) {
      sock.destroy();
      return;
    }
    track(sock);
    sock.on('error', () => sock.destroy());
    sock.setTimeout(IDLE_MS, () => sock.destroy());
    sock.once('data', (chunk) => {
      sock.pause();
      sock.unshift(chunk);
      if (chunk[0] === 0x16) {
        // The TLSSocket takes over the handle and reads the unshifted bytes; the raw socket is not resumed.
        // It inherits allowHalfOpen: off, so a client that half-closes mid-handshake is closed at once (an answer
        // written from the 'end' handler still goes out before the automatic end).
        sock.setTimeout(0);
        sock.allowHalfOpen = false;
        tlsServer.emit('connection', sock);
      } else {
        serve(sock, l, 'plaintext');
      }
    });
  });
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new HarnessError(`cannot listen on ${l.address}:${l.appPort} for ${l.workload}|${l.port}: ${describeError(err)}`, { cause: err })));
    server.listen({ host: l.address, port: l.appPort }, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => process.stderr.write(`${PROGRAM}: ${l.workload}|${l.port}: ${describeError(err)}\n`));
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : l.appPort);
    });
  });
}

/**
 * @param {number} port
 * @param {string} address
 * @returns {Listener | undefined}
 */
function listenerFor(port, address) {
  const list = byAppPort.get(port) ?? [];
  return (list.length === 1 ? list[0] : list.find((e) => e.address === address))?.listener;
}

/**
 * Read the request (bounded), answer once, close.
 * @param {net.Socket} stream plaintext or decrypted TLS socket
 * @param {Listener} listener
 * @param {'plaintext' | 'tls'} received
 */
function serve(stream, listener, received) {
  stream.on('error', () => stream.destroy());
  stream.setTimeout(IDLE_MS, () => stream.destroy());
  let buf = Buffer.alloc(0);
  let answered = false;
  const answer = () => {
    if (answered) return;
    answered = true;
    stream.off('data', onData);
    stream.off('end', answer);
    const line = checkRequestLine(buf);
    record(line.state === 'ok' ? headerValue(buf.subarray(line.lineEnd), 'x-meshconform-probe') : probeLineId(buf), listener, received);
    if (line.state === 'ok') {
      const xfcc = headerValue(buf.subarray(line.lineEnd), 'x-forwarded-client-cert');
      /** @type {EchoReply} */
      const reply = { workload: listener.workload, port: listener.port, received, protocol: 'http', ...(xfcc === undefined ? {} : { xfcc }) };
      const body = JSON.stringify(reply);
      stream.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    } else {
      /** @type {EchoReply} */
      const reply = { workload: listener.workload, port: listener.port, received, protocol: 'tcp' };
      stream.end(`MESHCONFORM-ECHO ${JSON.stringify(reply)}\n`);
    }
    // Keep draining so the client reads the answer rather than a reset, then close for good.
    stream.on('data', () => {});
    stream.resume();
    const t = setTimeout(() => stream.destroy(), LINGER_MS);
    stream.once('close', () => clearTimeout(t));
  };
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk.subarray(0, MAX_INPUT - buf.length)]);
    if (buf.length >= MAX_INPUT) return answer();
    const line = checkRequestLine(buf);
    if (line.state === 'ok') {
      if (buf.indexOf(HEADERS_END, Math.max(0, line.lineEnd - 2)) >= 0 || buf.indexOf('\n\n', Math.max(0, line.lineEnd - 1)) >= 0) answer();
    } else if (line.state === 'bad') {
      if (buf.includes(0x0a)) answer();
    }
  };
  stream.on('data', onData);
  stream.on('end', answer); // half-closed before a newline: answer with what arrived
  stream.resume();
}

/**
 * Value of a header (all occurrences joined by ","), from the bytes after the request line.
 * @param {Buffer} head
 * @param {string} name lower case
 * @returns {string | undefined}
 */
function headerValue(head, name) {
  /** @type {string[]} */
  const values = [];
  for (const line of head.toString('latin1').split(/\r?\n/)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) values.push(line.slice(colon + 1).trim());
  }
  return values.length > 0 ? values.join(',') : undefined;
}

/**
 * The id of a raw probe line (`MESHCONFORM-PROBE <id>`), if the bytes start with one.
 * @param {Buffer} buf
 * @returns {string | undefined}
 */
function probeLineId(buf) {
  const text = buf.toString('latin1');
  if (!text.startsWith(PROBE_LINE_PREFIX)) return undefined;
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).slice(PROBE_LINE_PREFIX.length).replace(/\r$/, '');
}

/**
 * Appends one receipt (synchronously: it is on disk before the answer leaves, so a harness that collects after the
 * client gave up still finds it).
 * @param {string | undefined} id
 * @param {Listener} listener
 * @param {'plaintext' | 'tls'} received
 */
function record(id, listener, received) {
  if (!receiptsFile || id === undefined || id === '' || id.length > MAX_ID || /[\x00-\x1f\x7f]/.test(id) || receiptCount >= MAX_RECEIPTS) return;
  receiptCount++;
  try {
    // One descriptor per receipts file (opened on the first receipt): an open, write and close per probe cost more.
    receiptsFd ??= openSync(receiptsFile, 'a', 0o600);
    writeSync(receiptsFd, `${JSON.stringify({ id, workload: listener.workload, port: listener.port, received })}\n`);
  } catch (err) {
    process.stderr.write(`${PROGRAM}: cannot write receipts to ${receiptsFile}: ${describeError(err)}; no further receipts\n`);
    receiptsFile = undefined;
  }
}

/** @param {net.Socket} s */
function track(s) {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
}

function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
  setImmediate(() => process.exit(0));
}
