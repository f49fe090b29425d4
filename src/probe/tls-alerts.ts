/** TLS alert descriptions (RFC 8446 §6, RFC 5246 §7.2), by number. */
const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  21: 'decryption_failed',
  22: 'record_overflow',
  30: 'decompression_failure',
  40: 'handshake_failure',
  41: 'no_certificate',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  60: 'export_restriction',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  100: 'no_renegotiation',
  109: 'missing_extension',
  110: 'unsupported_extension',
  111: 'certificate_unobtainable',
  112: 'unrecognized_name',
  113: 'bad_certificate_status_response',
  114: 'bad_certificate_hash_value',
  115: 'unknown_psk_identity',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

const ALERT_CODE = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z0-9_]+)$/;
const ALERT_NUMBER = /SSL alert number (\d+)/;

/**
 * The alert a peer sent, read from an OpenSSL error (code `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, message
 * "... SSL alert number 116"); `undefined` when the error is not a received alert.
 */
export function receivedAlert(err: { code?: unknown; message: string }): { code?: number; name: string } | undefined {
  const fromCode = typeof err.code === 'string' ? ALERT_CODE.exec(err.code) : null;
  const numberMatch = ALERT_NUMBER.exec(err.message);
  if (!fromCode && !numberMatch) return undefined;
  const code = numberMatch ? Number(numberMatch[1]) : undefined;
  const name = (code !== undefined ? ALERT_NAMES[code] : undefined) ?? fromCode?.[1]?.toLowerCase() ?? `alert_${code}`;
  return code !== undefined ? { code, name } : { name };
}
