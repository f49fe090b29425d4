import { AGENT_NAME, AGENT_PROTOCOL, type AgentHello, type AgentReply, type CredentialName } from '../model/index.js';
import type { ProbeContext } from '../probe/index.js';
import { checkBatch, runBatch } from './batch.js';
import { contextFor, mergedClients, readOutputCerts, type ExportedCerts } from './credentials.js';
import { checkHello } from './hello.js';
import { parseMessage, readLines } from './lines.js';
import { AgentProtocolError } from './protocol-error.js';

/**
 * One session: `hello`, then batches one at a time until `end` or the end of input. Throws AgentProtocolError when the
 * host breaks the protocol; anything else it throws is the agent's own fault.
 */
export async function runSession(input: AsyncIterable<Buffer | string>, emit: (message: AgentReply) => Promise<void>): Promise<void> {
  const lines = readLines(input);
  const first = await lines.next();
  if (first.done) return; // nobody said anything
  const hello = checkHello(parseMessage(first.value));
  const certs = new SessionCerts(hello);
  await certs.load();
  await emit({
    type: 'ready',
    protocol: AGENT_PROTOCOL,
    agent: AGENT_NAME,
    node: process.version,
    credentials: certs.credentials(),
    ...(certs.exported ? { meshIdentity: certs.exported.identity } : {}),
  });
  for (;;) {
    const next = await lines.next();
    if (next.done) return;
    const msg = parseMessage(next.value);
    if (msg['type'] === 'end') return;
    if (msg['type'] !== 'batch') throw new AgentProtocolError(`unknown message type ${JSON.stringify(msg['type'])} (expected "batch" or "end")`);
    const batch = checkBatch(msg);
    await runBatch(batch, await certs.refresh(), hello, emit);
  }
}

/** The session's credentials: the host's material, and the sidecar's exported certificate when hello names its folder. */
class SessionCerts {
  exported: ExportedCerts | undefined;
  private ctx: ProbeContext | undefined;

  constructor(private readonly hello: AgentHello) {}

  async load(): Promise<void> {
    const dir = this.hello.istioOutputCerts;
    if (dir !== undefined) this.exported = await readOutputCerts(dir, this.hello.waitForCertsMs ?? 0);
    this.ctx = contextFor(this.hello.material, this.exported);
  }

  credentials(): CredentialName[] {
    return (Object.keys(mergedClients(this.hello.material, this.exported)) as CredentialName[]).sort();
  }

  /** The context for the next batch: Istio rotates the exported certificate, so a new one is picked up between batches. */
  async refresh(): Promise<ProbeContext> {
    const dir = this.hello.istioOutputCerts;
    if (dir !== undefined) {
      const now = await readOutputCerts(dir, 0).catch(() => this.exported);
      if (now && this.exported && now.certPem !== this.exported.certPem) {
        this.exported = now;
        this.ctx = contextFor(this.hello.material, now);
      }
    }
    return this.ctx!;
  }
}
