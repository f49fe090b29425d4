// @ts-check
/**
 * The ambient proxy's view of the data-plane contract file: the shared checker (../common/workload-config.mjs, the
 * rules of schemas/workload-config.schema.json) plus what is ambient's own: ambient mode only, no workload port on
 * the node proxy's HBONE port, and policies normalised the ambient way (ambient-policy.mjs keeps `selector: {}`
 * apart from no selector, which ambient mode distinguishes and the sidecar does not).
 */
import { HarnessError } from '../common/harness-error.mjs';
import { checkWorkloadConfig as checkContract, loadWorkloadConfigFile } from '../common/workload-config.mjs';
import { normalizeAmbientPolicy } from './ambient-policy.mjs';

/** Where the node proxy terminates HBONE (spec R6.2); a workload may not declare it. */
export const HBONE_PORT = 15008;

/**
 * @typedef {Omit<import('../common/workload-config.mjs').WorkloadConfig, 'mesh' | 'policies'> & {
 *   mesh: { mode: 'ambient', rootNamespace: string, trustDomain: string },
 *   policies: import('./ambient-policy.mjs').AmbientPolicy[] }} AmbientWorkloadConfig policies normalised
 */

/**
 * @param {string} file
 * @returns {AmbientWorkloadConfig}
 */
export function loadAmbientConfig(file) {
  return loadWorkloadConfigFile(file, ambientConfig);
}

/**
 * @param {unknown} raw parsed JSON
 * @returns {AmbientWorkloadConfig}
 */
export function checkAmbientConfig(raw) {
  return ambientConfig(checkContract(raw));
}

/**
 * @param {import('../common/workload-config.mjs').WorkloadConfig} config
 * @returns {AmbientWorkloadConfig}
 */
function ambientConfig(config) {
  const { mesh, workload } = config;
  if (mesh.mode !== 'ambient') {
    throw new HarnessError(`mesh.mode is ${JSON.stringify(mesh.mode)}; the reference ambient proxy implements ambient mode only (sidecar mode is served by the reference sidecar)`);
  }
  const i = workload.ports.findIndex((p) => p.port === HBONE_PORT);
  if (i >= 0) throw new HarnessError(`workload.ports[${i}].port: port ${HBONE_PORT} is the node proxy's HBONE port, a workload cannot declare it in ambient mode`);
  return { ...config, mesh: { ...mesh, mode: 'ambient' }, policies: config.policies.map((p, i) => normalizeAmbientPolicy(p, i)) };
}
