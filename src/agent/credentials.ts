import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentMaterial } from '../model/index.js';
import { createProbeContext, uriSan, type ProbeContext, type ProbeMaterial } from '../probe/index.js';
import { AgentProtocolError } from './protocol-error.js';

/** What an Istio sidecar exports with proxy metadata OUTPUT_CERTS: its own certificate, key and the mesh root. */
export interface ExportedCerts {
  readonly certPem: string;
  readonly keyPem: string;
  readonly rootPem: string;
  /** The certificate's SPIFFE ID. */
  readonly identity: string;
}

const RETRY_MS = 500;

/** The sidecar's exported certificates in `dir`, waiting up to `waitMs` for the sidecar to write them. */
export async function readOutputCerts(dir: string, waitMs: number): Promise<ExportedCerts> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const [certPem, keyPem, rootPem] = await Promise.all(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(dir, f), 'utf8')));
      const identity = uriSan(new X509Certificate(certPem!)) ?? '(no URI SAN)';
      return { certPem: certPem!, keyPem: keyPem!, rootPem: rootPem!, identity };
    } catch (err) {
      if (Date.now() >= until) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        throw new AgentProtocolError(
          `no usable Istio output certificates in ${dir} (cert-chain.pem, key.pem, root-cert.pem): ${why}; is the sidecar running with proxyMetadata OUTPUT_CERTS=${dir} and the volume mounted in both containers?`,
        );
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}

/** The client credentials of the session: the host's, with the sidecar's own certificate as `mesh` when exported. */
export function mergedClients(material: AgentMaterial, exported: ExportedCerts | undefined): ProbeMaterial['clients'] {
  return { ...material.clients, ...(exported ? { mesh: { certPem: exported.certPem, keyPem: exported.keyPem } } : {}) };
}

/** The probe context of the session; the exported root joins the mesh trust bundle. */
export function contextFor(material: AgentMaterial, exported: ExportedCerts | undefined): ProbeContext {
  const meshCaPem = [material.meshCaPem ?? '', exported?.rootPem ?? ''].filter(Boolean).join('\n');
  if (!meshCaPem) throw new AgentProtocolError('no mesh trust bundle: give material.meshCaPem or istioOutputCerts');
  try {
    return createProbeContext({ meshCaPem, appCaPem: material.appCaPem, clients: mergedClients(material, exported) });
  } catch (err) {
    throw new AgentProtocolError(err instanceof Error ? err.message : String(err));
  }
}
