// @ts-check
/**
 * The reference sidecar's view of the data-plane contract file: the shared checker (../common/workload-config.mjs,
 * the rules of schemas/workload-config.schema.json) plus what is the sidecar's own: sidecar mode only, and policies
 * normalised the sidecar way (policy.mjs). Every problem is one HarnessError naming the file and the field.
 */
import { HarnessError } from '../common/harness-error.mjs';
import { checkWorkloadConfig as checkContract, loadWorkloadConfigFile } from '../common/workload-config.mjs';
import { normalizePolicy } from './policy.mjs';

/** @typedef {import('../common/workload-config.mjs').PortProtocol} PortProtocol */
/**
 * @typedef {Omit<import('../common/workload-config.mjs').WorkloadConfig, 'mesh' | 'policies'> & {
 *   mesh: { mode: 'sidecar', rootNamespace: string, trustDomain: string },
 *   policies: import('./policy.mjs').PeerAuthentication[] }} WorkloadConfig policies normalised
 */

/**
 * @param {string} file
 * @returns {WorkloadConfig}
 */
export function loadWorkloadConfig(file) {
  return loadWorkloadConfigFile(file, sidecarConfig);
}

/**
 * @param {unknown} raw parsed JSON
 * @returns {WorkloadConfig}
 */
export function checkWorkloadConfig(raw) {
  return sidecarConfig(checkContract(raw));
}

/**
 * @param {import('../common/workload-config.mjs').WorkloadConfig} config
 * @returns {WorkloadConfig}
 */
function sidecarConfig(config) {
  const { mesh } = config;
  if (mesh.mode !== 'sidecar') throw new HarnessError(`mesh.mode is ${JSON.stringify(mesh.mode)}; the reference sidecar implements sidecar mode only`);
  return { ...config, mesh: { ...mesh, mode: 'sidecar' }, policies: config.policies.map((p, i) => normalizePolicy(p, i)) };
}
