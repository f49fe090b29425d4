/**
 * Evidence text rules shared by every backend and the report: secrets never leave the run, and every piece is bounded.
 */

/** Per-cell log excerpt, per inline config, per attachment, per run (every attachment of every scenario). */
export const EVIDENCE_BOUNDS = { cellLogBytes: 16 * 1024, configBytes: 32 * 1024, attachmentBytes: 1024 * 1024, runBytes: 64 * 1024 * 1024 } as const;

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
/** The end of a key whose start was cut off (a log window, `--since-time`): the base64 lines before it go too. */
const ORPHAN_KEY_END = /(^|\n)(?:[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n)*[ \t]*[A-Za-z0-9+/=]*-----END ([A-Z0-9 ]*)PRIVATE KEY-----/g;
/** Base64 of a PEM block (`-----BEGIN`), as Kubernetes Secret data and some proxies' JSON carry keys. */
const BASE64_PEM = /LS0tLS1CRUdJTi[A-Za-z0-9+/=]{20,}/g;
/** Names of members that hold key material or Secret data (JSON, YAML, key=value, JSON inside a JSON string). */
const SECRET_NAME = String.raw`(?:private[_-]?key|privateKey|key[_-]?pem|keyPem|key\.pem|[\w-]*\.key|ca-key\.pem|inline_bytes|inlineBytes|inline_string|inlineString)`;
/**
 * JSON or YAML members that hold key material or Secret data: their values are replaced. An object or list value is
 * left to the members inside it (its key fields are caught in turn); `[redacted]` itself is never matched again, so
 * redacting twice changes nothing.
 */
const SECRET_MEMBER = new RegExp(String.raw`((?:\\?["'])?${SECRET_NAME}(?:\\?["'])?\s*[:=]\s*)(\\"(?:[^"\\]|\\[^"])*\\"|"(?:[^"\\]|\\.)*"|'[^']*'|(?![[{|>])[^\s,}\]\\]+)`, 'gi');
/** A YAML block scalar under a secret name (`tls.key: |` then indented lines): the indented lines go. */
const SECRET_BLOCK = new RegExp(String.raw`(^([ \t]*)${SECRET_NAME}\s*:\s*[|>][+-]?[ \t]*\r?\n)((?:\2[ \t]+\S.*(?:\r?\n|$))+)`, 'gim');

export const REDACTED = '[redacted]';

function base64Key(b64: string): boolean {
  try {
    return /PRIVATE KEY/.test(Buffer.from(b64, 'base64').toString('latin1'));
  } catch {
    return false;
  }
}

/** The text with private keys and secret members replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  return text
    .replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY----- ${REDACTED} -----END $1PRIVATE KEY-----`)
    .replace(ORPHAN_KEY_END, (m, lead: string, kind: string) => (m.includes(REDACTED) ? m : `${lead}${REDACTED} -----END ${kind}PRIVATE KEY-----`))
    .replace(BASE64_PEM, (m) => (base64Key(m) ? REDACTED : m))
    .replace(SECRET_BLOCK, (_m, head: string, indent: string) => `${head}${indent}  ${REDACTED}\n`)
    .replace(SECRET_MEMBER, (_m, key: string, value: string) => {
      const quote = value.startsWith('\\"') ? '\\"' : value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
      return `${key}${quote}${REDACTED}${quote}`;
    });
}

/**
 * Log lines redacted as a whole (a key spans lines): a line inside a private key block, or before an orphaned key end,
 * becomes `[redacted]`; the number and order of lines stay, so each keeps its time and stream.
 */
export function redactLines(lines: readonly string[]): string[] {
  const out = lines.map((l) => redactSecrets(l));
  let inKey = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(l)) inKey = !/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(l);
    else if (inKey) {
      out[i] = REDACTED;
      if (/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(l)) inKey = false;
    } else if (/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(l)) {
      out[i] = REDACTED;
      for (let k = i - 1; k >= 0 && /^\s*[A-Za-z0-9+/=]{16,}\s*$/.test(lines[k]!); k--) out[k] = REDACTED;
    }
  }
  return out;
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
