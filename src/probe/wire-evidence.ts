import type { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import type { WireEvidence } from '../model/index.js';

/** Bounds of wire evidence (model WireEvidence): bytes kept, certificates, SANs per certificate, characters a string. */
export const WIRE_BOUNDS = { firstBytes: 256, chain: 4, sans: 8, chars: 512 } as const;

type FirstBytes = NonNullable<WireEvidence['firstBytes']>;
export type ChainEvidence = NonNullable<WireEvidence['chain']>;
type CertSummary = ChainEvidence[number];

/**
 * The first bytes the server sent on a connection (for HBONE: through the tunnel), and how many came in all. Keeps
 * references to the first chunks only (no copy while the probe runs); the evidence is rendered once, at the end.
 */
export class ReceivedBytes {
  private readonly head: Buffer[] = [];
  private held = 0;
  private total = 0;

  push(chunk: Buffer): void {
    if (this.held < WIRE_BOUNDS.firstBytes) {
      this.head.push(chunk);
      this.held += chunk.length;
    }
    this.total += chunk.length;
  }

  /** Hex (lowercase) and printable ASCII (anything else as `.`) of the first bytes; `undefined` when none came. */
  evidence(): FirstBytes | undefined {
    if (this.total === 0) return undefined;
    const n = Math.min(this.held, WIRE_BOUNDS.firstBytes);
    const bytes = this.head.length === 1 ? this.head[0]!.subarray(0, n) : Buffer.concat(this.head, n);
    // latin1 maps each byte to one character, so the text has exactly one character a byte.
    return { hex: bytes.toString('hex'), text: bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '.'), total: this.total };
  }
}

// One read a socket, shared by the TLS evidence and the wire evidence (held no longer than the socket).
const peers = new WeakMap<tls.TLSSocket, X509Certificate | null>();

const CHAIN_CACHE_LIMIT = 1024;
// Presented chains by their leaf's fingerprint. A socket's own X509Certificate holds its parsed certificates in native
// memory the heap does not see, until a major collection reaches it long after the probe: at 18 000 probes, about
// 200 MB. A server presents one chain with a leaf, so the first socket's chain stands for the leaf's later ones.
const chains = new Map<string, X509Certificate>();

/**
 * The peer's leaf certificate, the rest of the presented chain behind `issuerCertificate`. Node 20 hands it out once
 * a socket (a second getPeerX509Certificate() is empty, and so is getPeerCertificate() after it), so every reader in
 * the probe goes through here, and a caller wanting the legacy object reads it before. Not getPeerCertificate(true):
 * that object costs several times more a socket. A leaf seen before is named by the legacy object of the leaf alone
 * (freed with the socket) and answered from `chains`.
 */
export function peerX509(socket: tls.TLSSocket): X509Certificate | undefined {
  let peer = peers.get(socket);
  if (peer === undefined) {
    try {
      peer = readPeer(socket);
    } catch {
      peer = null;
    }
    peers.set(socket, peer);
  }
  return peer ?? undefined;
}

function readPeer(socket: tls.TLSSocket): X509Certificate | null {
  const fingerprint = leafFingerprint(socket);
  const known = fingerprint === undefined ? undefined : chains.get(fingerprint);
  if (known) return known;
  const peer = socket.getPeerX509Certificate() ?? null;
  if (peer && fingerprint !== undefined && peer.fingerprint256 === fingerprint) {
    if (chains.size >= CHAIN_CACHE_LIMIT) chains.clear();
    chains.set(fingerprint, peer);
  }
  return peer;
}

/** The SHA-256 fingerprint of the presented leaf, from the legacy object (which reads no chain); `undefined` if none. */
function leafFingerprint(socket: tls.TLSSocket): string | undefined {
  try {
    const fingerprint: unknown = socket.getPeerCertificate(false)?.fingerprint256;
    return typeof fingerprint === 'string' && fingerprint !== '' ? fingerprint : undefined;
  } catch {
    return undefined;
  }
}

const SUMMARY_CACHE_LIMIT = 1024;
// Data planes present few distinct certificates: each is summarised once, then it costs a hash lookup a socket.
const summaries = new Map<string, CertSummary>();

/** The presented chain, leaf first, up to WIRE_BOUNDS.chain certificates; stops at a self-signed one or a cycle. */
export function chainEvidence(leaf: X509Certificate | undefined): ChainEvidence | undefined {
  try {
    const out: CertSummary[] = [];
    const seen: string[] = [];
    for (let c = leaf; c && out.length < WIRE_BOUNDS.chain; c = c.issuerCertificate) {
      const fp = c.fingerprint256;
      if (seen.includes(fp)) break;
      seen.push(fp);
      out.push(summaryOf(c, fp));
    }
    return out.length > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}

function summaryOf(cert: X509Certificate, fingerprint: string): CertSummary {
  const cached = summaries.get(fingerprint);
  if (cached) return cached;
  const summary: CertSummary = Object.freeze({
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    sans: Object.freeze(splitSans(cert.subjectAltName)),
  });
  if (summaries.size >= SUMMARY_CACHE_LIMIT) summaries.clear();
  summaries.set(fingerprint, summary);
  return summary;
}

/**
 * One line, most specific attribute first as RFC 4514 writes it (`CN=…, O=…`), from Node's form: one attribute a
 * line in DER order, with separators and control characters already escaped by OpenSSL.
 */
function distinguishedName(multiline: string | undefined): string {
  if (typeof multiline !== 'string' || multiline === '') return '';
  // Enough lines for the bound: a hostile name of thousands of attributes costs no more than this.
  const lines = multiline.split('\n', 4 * WIRE_BOUNDS.chars).filter((l) => l !== '');
  return boundedText(lines.reverse().join(', '));
}

/** `URI:…`, `DNS:…`, `IP:…` (Node's `IP Address`), other kinds as Node names them; values Node quoted are unquoted. */
function splitSans(text: string | undefined): string[] {
  if (typeof text !== 'string') return [];
  const out: string[] = [];
  const entry = /([^:,"]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  while (out.length < WIRE_BOUNDS.sans && entry.lastIndex < text.length) {
    const m = entry.exec(text);
    if (!m) break;
    const kind = m[1] === 'IP Address' ? 'IP' : m[1]!;
    out.push(boundedText(`${kind}:${unquote(m[2]!)}`));
  }
  return out;
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

/** Control, format (bidi overrides) and separator characters, and lone surrogates: shown as `\XX` UTF-8 escapes. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const escapeChar = (ch: string) => Array.from(Buffer.from(ch, 'utf8'), (b) => `\\${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Safe to print and at most WIRE_BOUNDS.chars characters (`…` marks a cut). */
export function boundedText(text: string): string {
  const max = WIRE_BOUNDS.chars;
  const clean = text.slice(0, 4 * max).replace(UNSAFE, escapeChar);
  if (clean.length <= max) return clean;
  // Never end on half a surrogate pair.
  const cut = /[\uD800-\uDBFF]$/.test(clean.slice(0, max - 1)) ? clean.slice(0, max - 2) : clean.slice(0, max - 1);
  return `${cut}…`;
}

/** The connection's wire evidence, or `undefined` when it has none. Never throws: evidence is optional. */
export function wireEvidence(received: ReceivedBytes | undefined, chain: ChainEvidence | undefined): WireEvidence | undefined {
  try {
    const firstBytes = received?.evidence();
    if (!firstBytes && !chain) return undefined;
    // Literals, not spreads: see util/with-props.ts.
    return firstBytes && chain ? { firstBytes, chain } : firstBytes ? { firstBytes } : { chain: chain! };
  } catch {
    return undefined;
  }
}
