import type { ConnectionTrace } from './open-connection.js';
import { denied, type Outcome } from './outcome.js';

const WAITING_FOR = { connect: 'TCP connect', handshake: 'the TLS handshake', reply: 'a reply' } as const;

/** The probe deadline passed; the detail says what it was still waiting for. */
export function timeoutOutcome(signal: AbortSignal, trace: ConnectionTrace): Outcome {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'probe deadline passed';
  return denied('timeout', `${reason} (waiting for ${WAITING_FOR[trace.phase]})`);
}
