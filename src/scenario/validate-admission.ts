import { POLICY_MODES } from '../model/index.js';
import type { PeerAuthenticationManifest } from '../model/index.js';
import type { Issue } from './diagnostics.js';
import { manifestCheck } from './policy-schema.js';
import { isRecord } from './is-record.js';
import { isRfc3339 } from './rfc3339.js';

/** Outcome of admitting one PeerAuthentication: `valid` iff no errors; warnings never make it invalid. */
export interface AdmissionResult {
  readonly valid: boolean;
  readonly errors: readonly Issue[];
  readonly warnings: readonly Issue[];
  /** The manifest, typed, when valid. */
  readonly manifest?: PeerAuthenticationManifest;
}

export const SELECTOR_WITHOUT_LABELS = 'workload selector specified without labels';

/**
 * Admit a PeerAuthentication manifest as the API server and Istio would (spec R1.3): the structural schema
 * (unknown fields, types, apiVersion/kind), RFC 3339 creationTimestamp, then Istio's CRD and webhook rules.
 * Paths in the issues are relative to the manifest. Metadata name syntax is not checked here: Istio's own validation
 * vectors use names Kubernetes would refuse; the scenario loader checks it.
 */
export function validateAdmission(manifest: unknown): AdmissionResult {
  const errors: Issue[] = [...manifestCheck.issues(manifest)];
  const warnings: Issue[] = [];
  if (!isRecord(manifest)) return { valid: false, errors, warnings };

  const meta = manifest['metadata'];
  if (isRecord(meta) && typeof meta['creationTimestamp'] === 'string' && !isRfc3339(meta['creationTimestamp'])) {
    errors.push({
      path: ['metadata', 'creationTimestamp'],
      at: 'value',
      message: `${JSON.stringify(meta['creationTimestamp'])} is not an RFC 3339 timestamp; allowed: for example "2024-01-01T00:00:00Z"`,
    });
  }

  const spec = manifest['spec'];
  if (isRecord(spec)) checkSpec(spec, errors, warnings);

  const valid = errors.length === 0;
  return valid ? { valid, errors, warnings, manifest: manifest as unknown as PeerAuthenticationManifest } : { valid, errors, warnings };
}

function checkSpec(spec: Record<string, unknown>, errors: Issue[], warnings: Issue[]): void {
  // Selector (selector.proto:36-38, validation.go validateWorkloadSelector).
  const selector = spec['selector'];
  let labelCount = 0;
  if (isRecord(selector)) {
    const labels = selector['matchLabels'];
    if (isRecord(labels)) {
      for (const [k, v] of Object.entries(labels)) {
        labelCount++;
        const at = ['spec', 'selector', 'matchLabels', k];
        if (k === '' || k.includes('*')) {
          errors.push({ path: at, at: 'key', message: `selector label key ${JSON.stringify(k)} is invalid: keys may not be empty or contain "*"` });
        }
        if (typeof v === 'string' && (v === '' || v.includes('*'))) {
          errors.push({ path: at, at: 'value', message: `selector label value ${JSON.stringify(v)} is invalid: values may not be empty or contain "*"` });
        }
      }
    }
    if (labelCount === 0) warnings.push({ path: ['spec', 'selector'], at: 'value', message: SELECTOR_WITHOUT_LABELS });
  }

  const mtls = spec['mtls'];
  if (isRecord(mtls)) checkMode(mtls['mode'], ['spec', 'mtls', 'mode'], errors);

  // portLevelMtls (peer_authentication.proto:139,174; validation.go:1710-1740).
  const ports = spec['portLevelMtls'];
  if (!isRecord(ports)) return;
  if (Object.keys(ports).length === 0) {
    errors.push({
      path: ['spec', 'portLevelMtls'],
      at: 'key',
      message: 'portLevelMtls must have at least 1 port when given (an empty portLevelMtls is rejected); remove it or add a port',
    });
    return;
  }
  if (labelCount === 0) {
    errors.push({
      path: ['spec', 'portLevelMtls'],
      at: 'key',
      message: 'portLevelMtls requires selector with at least one label: mesh- and namespace-level policies cannot set port-level mTLS',
    });
  }
  const seen = new Map<number, string>();
  for (const [key, entry] of Object.entries(ports)) {
    const at = ['spec', 'portLevelMtls', key];
    if (!/^[0-9]+$/.test(key)) {
      errors.push({ path: at, at: 'key', message: `port ${JSON.stringify(key)} is not a port number; allowed: 1-65535` });
    } else {
      const port = Number(key);
      if (port < 1 || port > 65535) {
        errors.push({ path: at, at: 'key', message: `port must be between 1-65535, got ${key}` });
      } else if (seen.has(port)) {
        errors.push({ path: at, at: 'key', message: `port ${port} is given twice (as ${JSON.stringify(seen.get(port))} and ${JSON.stringify(key)})` });
      } else {
        seen.set(port, key);
      }
    }
    if (isRecord(entry)) checkMode(entry['mode'], [...at, 'mode'], errors);
  }
}

function checkMode(mode: unknown, path: string[], errors: Issue[]): void {
  if (mode === undefined || mode === null) return; // an absent mode is UNSET (R1.2)
  if (typeof mode === 'string' && (POLICY_MODES as readonly string[]).includes(mode)) return;
  const shown = typeof mode === 'string' ? JSON.stringify(mode) : String(mode);
  errors.push({ path, at: 'value', message: `Unsupported value: ${shown}; allowed modes: ${POLICY_MODES.join(', ')}` });
}
