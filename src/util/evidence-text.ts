/**
 * Evidence text rules shared by every backend and the report: secrets never leave the run, and every piece is bounded.
 */

/** Per-cell log excerpt, per inline config, per attachment, per run (every attachment of every scenario). */
export const EVIDENCE_BOUNDS = { cellLogBytes: 16 * 1024, configBytes: 32 * 1024, attachmentBytes: 1024 * 1024, runBytes: 64 * 1024 * 1024 } as const;

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
/**
 * JSON or YAML members that hold key material or Secret data: their values are replaced. An object or list value is
 * left to the members inside it (its key fields are caught in turn); `[redacted]` itself is never matched again, so
 * redacting twice changes nothing.
 */
const SECRET_MEMBER =
  /(["']?(?:private[_-]?key|privateKey|key[_-]?pem|keyPem|tls\.key|ca-key\.pem|inline_bytes|inlineBytes)["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|(?![[{])[^\s,}\]]+)/gi;

export const REDACTED = '[redacted]';

/** The text with private keys and secret members replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  return text.replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY----- ${REDACTED} -----END $1PRIVATE KEY-----`).replace(SECRET_MEMBER, (_m, key: string, value: string) => {
    const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    return `${key}${quote}${REDACTED}${quote}`;
  });
}

/** At most `maxBytes` of UTF-8: the last bytes (logs: what came last matters) or the first (state, config). */
export function bounded(text: string, maxBytes: number, keep: 'head' | 'tail'): { text: string; truncated?: true } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return { text };
  const cut = keep === 'tail' ? bytes.subarray(bytes.length - maxBytes) : bytes.subarray(0, maxBytes);
  // A cut inside a multi-byte character decodes to U+FFFD at the edge; drop it.
  return { text: cut.toString('utf8').replace(keep === 'tail' ? /^\uFFFD+/ : /\uFFFD+$/, ''), truncated: true };
}

/** Redacted, then bounded: the one way evidence text is made. */
export function evidenceText(text: string, maxBytes: number, keep: 'head' | 'tail'): { text: string; truncated?: true } {
  return bounded(redactSecrets(text), maxBytes, keep);
}
