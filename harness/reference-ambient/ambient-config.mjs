// @ts-check
/**
 * Reading and checking the data-plane contract file (src/model/data-plane.ts `WorkloadConfig`) for the ambient
 * proxy. Own checker, not harness/reference/config.mjs: that one accepts sidecar mode only and normalises policies
 * the sidecar way (it cannot tell `selector: {}` from no selector, which ambient mode distinguishes).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { HarnessError, describeError } from '../common/harness-error.mjs';
import { normalizeAmbientPolicy } from './ambient-policy.mjs';

export const WORKLOAD_CONFIG_API_VERSION = 'meshconform.dev/v1alpha1';
/** Where the node proxy terminates HBONE (spec R6.2); a workload may not declare it. */
export const HBONE_PORT = 15008;

/** @typedef {'tcp' | 'http'} PortProtocol */
/**
 * @typedef {object} AmbientWorkloadConfig
 * @property {{ name: string, namespace: string, labels: Record<string, string>, serviceAccount: string, address: string,
 *   ports: { port: number, protocol: PortProtocol }[] }} workload
 * @property {{ address: string, ports: Record<string, number> }} app
 * @property {{ mode: 'ambient', rootNamespace: string, trustDomain: string }} mesh
 * @property {{ certFile: string, keyFile: string, caFile: string }} tls
 * @property {import('./ambient-policy.mjs').AmbientPolicy[]} policies normalised
 */

/**
 * @param {string} file
 * @returns {AmbientWorkloadConfig}
 */
export function loadAmbientConfig(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new HarnessError(`cannot read workload config ${file}: ${describeError(err)}`, { cause: err });
  }
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new HarnessError(`workload config ${file} is not valid JSON: ${describeError(err)}`, { cause: err });
  }
  try {
    return checkAmbientConfig(raw);
  } catch (err) {
    throw new HarnessError(`workload config ${file}: ${describeError(err)}`, { cause: err });
  }
}

/**
 * @param {unknown} raw parsed JSON
 * @returns {AmbientWorkloadConfig}
 */
export function checkAmbientConfig(raw) {
  const c = obj(raw, 'config');
  if (c.apiVersion !== WORKLOAD_CONFIG_API_VERSION) {
    throw new HarnessError(`apiVersion is ${JSON.stringify(c.apiVersion)}, expected ${WORKLOAD_CONFIG_API_VERSION}`);
  }
  const m = obj(c.mesh, 'mesh');
  if (m.mode !== 'ambient') {
    throw new HarnessError(`mesh.mode is ${JSON.stringify(m.mode)}; the reference ambient proxy implements ambient mode only (sidecar mode is served by the reference sidecar)`);
  }
  const w = obj(c.workload, 'workload');
  const address = str(w.address, 'workload.address');
  if (isIP(address) === 0) throw new HarnessError(`workload.address ${JSON.stringify(address)} is not an IP address`);
  if (!Array.isArray(w.ports) || w.ports.length === 0) throw new HarnessError('workload.ports must be a non-empty array');
  /** @type {Set<number>} */
  const seen = new Set();
  const ports = w.ports.map((p, i) => {
    const o = obj(p, `workload.ports[${i}]`);
    const port = portNumber(o.port, `workload.ports[${i}].port`);
    if (port === HBONE_PORT) throw new HarnessError(`workload.ports[${i}]: port ${HBONE_PORT} is the node proxy's HBONE port, a workload cannot declare it in ambient mode`);
    if (seen.has(port)) throw new HarnessError(`workload.ports: port ${port} declared twice`);
    seen.add(port);
    if (o.protocol !== 'tcp' && o.protocol !== 'http') throw new HarnessError(`workload.ports[${i}].protocol ${JSON.stringify(o.protocol)} is not tcp or http`);
    return { port, protocol: /** @type {PortProtocol} */ (o.protocol) };
  });
  const a = obj(c.app, 'app');
  const appPortsRaw = obj(a.ports, 'app.ports');
  /** @type {Record<string, number>} */
  const appPorts = {};
  for (const { port } of ports) appPorts[String(port)] = portNumber(appPortsRaw[String(port)], `app.ports["${port}"]`);
  const appAddress = str(a.address, 'app.address');
  if (isIP(appAddress) === 0) throw new HarnessError(`app.address ${JSON.stringify(appAddress)} is not an IP address`);
  const t = obj(c.tls, 'tls');
  if (!Array.isArray(c.policies)) throw new HarnessError('policies must be an array');
  return {
    workload: {
      name: str(w.name, 'workload.name'),
      namespace: str(w.namespace, 'workload.namespace'),
      labels: labels(w.labels, 'workload.labels'),
      serviceAccount: str(w.serviceAccount, 'workload.serviceAccount'),
      address,
      ports,
    },
    app: { address: appAddress, ports: appPorts },
    mesh: { mode: 'ambient', rootNamespace: str(m.rootNamespace, 'mesh.rootNamespace'), trustDomain: str(m.trustDomain, 'mesh.trustDomain') },
    tls: { certFile: str(t.certFile, 'tls.certFile'), keyFile: str(t.keyFile, 'tls.keyFile'), caFile: str(t.caFile, 'tls.caFile') },
    policies: c.policies.map((p, i) => normalizeAmbientPolicy(p, i)),
  };
}

/**
 * @param {unknown} v
 * @param {string} where
 * @returns {Record<string, any>}
 */
function obj(v, where) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HarnessError(`${where} must be an object`);
  return /** @type {Record<string, any>} */ (v);
}

/**
 * @param {unknown} v
 * @param {string} where
 */
function str(v, where) {
  if (typeof v !== 'string' || v === '') throw new HarnessError(`${where} must be a non-empty string`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} where
 */
function portNumber(v, where) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new HarnessError(`${where} must be a port 1-65535`);
  return v;
}

/**
 * @param {unknown} v
 * @param {string} where
 * @returns {Record<string, string>}
 */
function labels(v, where) {
  const o = obj(v ?? {}, where);
  for (const [k, val] of Object.entries(o)) if (typeof val !== 'string') throw new HarnessError(`${where}.${k} must be a string`);
  return /** @type {Record<string, string>} */ ({ ...o });
}
