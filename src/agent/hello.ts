import { AGENT_PROTOCOL, CREDENTIAL_NAMES, type AgentHello, type AgentMaterial, type CredentialName } from '../model/index.js';
import { AgentProtocolError } from './protocol-error.js';

/** Upper bounds of the numbers a host may ask for. */
const MAX_TIMEOUT_MS = 120_000;
const MAX_CONCURRENCY = 1024;
const MAX_WAIT_FOR_CERTS_MS = 600_000;

/** The session's settings from the first message, which must be a `hello` of this agent's protocol. */
export function checkHello(msg: Record<string, unknown>): AgentHello {
  if (msg['type'] !== 'hello') throw new AgentProtocolError(`the first message must be "hello", got ${JSON.stringify(msg['type'])}`);
  if (msg['protocol'] !== AGENT_PROTOCOL) {
    throw new AgentProtocolError(`unsupported protocol ${JSON.stringify(msg['protocol'])}: this agent speaks protocol ${AGENT_PROTOCOL}`);
  }
  const outputCerts = msg['istioOutputCerts'];
  const waitForCertsMs = msg['waitForCertsMs'];
  return {
    timeoutMs: checkTimeout(msg['timeoutMs'], 'hello.timeoutMs'),
    concurrency: positiveInt(msg['concurrency'], 'hello.concurrency', MAX_CONCURRENCY),
    material: checkMaterial(msg['material']),
    ...(outputCerts !== undefined ? { istioOutputCerts: String(outputCerts) } : {}),
    ...(waitForCertsMs !== undefined ? { waitForCertsMs: positiveInt(waitForCertsMs, 'hello.waitForCertsMs', MAX_WAIT_FOR_CERTS_MS) } : {}),
  };
}

/** A probe deadline (hello's, or a batch's own). */
export const checkTimeout = (v: unknown, what: string): number => positiveInt(v, what, MAX_TIMEOUT_MS);

function positiveInt(v: unknown, what: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new AgentProtocolError(`${what} must be a whole number between 1 and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkMaterial(value: unknown): AgentMaterial {
  if (typeof value !== 'object' || value === null) throw new AgentProtocolError('hello.material must be an object');
  const m = value as Record<string, unknown>;
  if (typeof m['appCaPem'] !== 'string') throw new AgentProtocolError('hello.material.appCaPem must be a PEM string');
  const meshCaPem = m['meshCaPem'];
  if (meshCaPem !== undefined && typeof meshCaPem !== 'string') throw new AgentProtocolError('hello.material.meshCaPem must be a PEM string');
  const clients = m['clients'] ?? {};
  if (typeof clients !== 'object' || clients === null) throw new AgentProtocolError('hello.material.clients must be an object');
  const out: { [K in CredentialName]?: { certPem: string; keyPem: string } } = {};
  for (const [name, c] of Object.entries(clients)) {
    if (!(CREDENTIAL_NAMES as readonly string[]).includes(name)) throw new AgentProtocolError(`hello.material.clients: unknown credential "${name}"`);
    const cred = c as { certPem?: unknown; keyPem?: unknown } | null;
    if (typeof cred !== 'object' || cred === null || typeof cred.certPem !== 'string' || typeof cred.keyPem !== 'string') {
      throw new AgentProtocolError(`hello.material.clients.${name} must be { certPem, keyPem }`);
    }
    out[name as CredentialName] = { certPem: cred.certPem, keyPem: cred.keyPem };
  }
  return { ...(typeof meshCaPem === 'string' ? { meshCaPem } : {}), appCaPem: m['appCaPem'], clients: out };
}
