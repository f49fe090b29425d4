import { CLIENT_KINDS, isHboneClient } from '../model/index.js';
import type { ClientKind, ExpectEntry, ExpectedOutcome, LintFinding, MeshMode, PortProtocol, Scenario } from '../model/index.js';
import { workloadKey } from './cell-key.js';
import { describeDecidedBy } from './describe-decided-by.js';
import { effectiveModes } from './effective-modes.js';
import { ModeIndex } from './mode-index.js';
import { outcomeFor, ruleWithNotes } from './outcome-for.js';

const OUTCOMES: readonly string[] = ['allow', 'passthrough', 'deny'] satisfies ExpectedOutcome[];

/**
 * `plaintext` stands for the plaintext client of the port's protocol; `mtls` for the mesh's mTLS client of the mode
 * (sidecar: the Istio mTLS client of the port's protocol; ambient: HBONE). Anything else must be a client kind.
 */
function resolveClient(key: string, protocol: PortProtocol, meshMode: MeshMode): ClientKind | undefined {
  if (key === 'plaintext') return protocol === 'http' ? 'plaintext-http' : 'plaintext-tcp';
  if (key === 'mtls') return meshMode === 'ambient' ? 'hbone' : protocol === 'http' ? 'mtls-http' : 'mtls-tcp';
  return (CLIENT_KINDS as readonly string[]).includes(key) ? (key as ClientKind) : undefined;
}

/** Every author `expect` entry that contradicts the oracle in `meshMode` (a scenario error, not a mesh failure). */
export function lintExpectations(scenario: Scenario, meshMode: MeshMode): LintFinding[] {
  const modes = new ModeIndex(effectiveModes(scenario, meshMode));
  const findings: LintFinding[] = [];
  const report = (e: ExpectEntry, message: string): void => {
    findings.push({ scenario: scenario.name, file: e.source.file, line: e.source.line, column: e.source.column, message });
  };

  for (const e of scenario.expect) {
    // An entry scoped to the other mode of a `both` scenario is that mode's business.
    if (e.meshMode !== undefined && e.meshMode !== meshMode) continue;
    const w = scenario.workloads.find((x) => workloadKey(x) === e.workload);
    if (w === undefined) {
      report(e, `expect names workload ${e.workload}, which the scenario does not declare`);
      continue;
    }
    const ports = e.port === undefined ? w.ports : w.ports.filter((p) => p.port === e.port);
    if (ports.length === 0) {
      report(e, `expect names port ${e.port} of ${e.workload}, which the workload does not declare (declared: ${w.ports.map((p) => p.port).join(', ')})`);
      continue;
    }

    if (e.mode !== undefined) {
      const eff = modes.get(e.workload, e.port ?? null);
      if (eff !== undefined && eff.mode !== e.mode) {
        const where = e.port === undefined ? `${e.workload} (workload level)` : `${e.workload} port ${e.port}`;
        const notes = eff.notes !== undefined && eff.notes.length > 0 ? ` (${eff.notes.join('; ')})` : '';
        report(e, `${where}: the author expects mode ${e.mode} in ${meshMode} mode, but the oracle derives ${eff.mode}${notes}; ${describeDecidedBy(eff.decidedBy)}`);
      }
    }

    for (const [key, expected] of Object.entries(e.outcomes)) {
      if (!OUTCOMES.includes(expected)) {
        report(e, `${e.workload}: outcome "${String(expected)}" for ${key} is not one of ${OUTCOMES.join(', ')}`);
        continue;
      }
      for (const { port, protocol } of ports) {
        const client = resolveClient(key, protocol, meshMode);
        if (client === undefined) {
          report(e, `${e.workload}: "${key}" is not a client kind (use plaintext, mtls or one of ${CLIENT_KINDS.join(', ')})`);
          break;
        }
        if (isHboneClient(client) && meshMode === 'sidecar') {
          // In a `both` scenario an unscoped HBONE key is for the ambient run.
          if (scenario.mode === 'both' && e.meshMode === undefined) break;
          report(
            e,
            `${e.workload}: ${key} is an HBONE client of ambient mode, never fired in sidecar mode; ` +
              (scenario.mode === 'both' ? 'this entry is scoped to meshMode: sidecar' : `this scenario runs in sidecar mode only (spec.mode: ${scenario.mode})`),
          );
          break;
        }
        const eff = modes.get(e.workload, port);
        if (eff === undefined) continue;
        const derived = outcomeFor(meshMode, eff.mode, protocol, client);
        if (derived !== undefined && derived.outcome !== expected) {
          const who = key === client ? client : `${key} (${client})`;
          report(
            e,
            `${e.workload} port ${port} (${protocol}, ${meshMode}): the author expects ${who}: ${expected}, but the oracle derives ${derived.outcome} ` +
              `under mode ${eff.mode} (${ruleWithNotes(derived.rule, eff.notes)}); ${describeDecidedBy(eff.decidedBy)}`,
          );
        }
      }
    }
  }
  return findings;
}
