import { expect } from 'chai';
import { slotEvidence, type EvidenceSource } from '../../../src/backend/common/host-evidence.js';
import type { CellKey, LogLine, WorkloadKey } from '../../../src/model/index.js';

const line = (atMs: number, text: string): LogLine => ({ atMs, stream: 'stderr', text });

function source(keys: readonly WorkloadKey[], lines: readonly LogLine[]): EvidenceSource {
  return {
    label: `data plane of ${keys.length} workloads`,
    log: { between: (from, to) => lines.filter((l) => l.atMs >= from && l.atMs <= to), text: () => lines.map((l) => l.text).join('\n'), truncated: false },
    members: keys.map((key) => ({ key, configs: { at: () => '{}' }, configFile: `/tmp/${key.replace('/', '-')}.json` })),
  };
}

const request = (workload: WorkloadKey) => ({ key: `${workload}|8080|plaintext` as CellKey, workload, port: 8080, fromMs: 0, toMs: 100 });

describe('host evidence: the log lines a failing cell keeps', () => {
  const lines = [
    line(10, 'sidecar: foo/web:8080 STRICT/tcp plaintext -> reset'),
    line(20, 'sidecar: foo/web2:8080 PERMISSIVE/tcp plaintext -> pass'),
    line(30, 'sidecar: bar/web:8080 DISABLE/tcp plaintext -> pass'),
    line(40, 'sidecar: reload failed, keeping the previous configuration'),
  ];

  it('a process serving several workloads: the cell keeps its own lines and the process-wide ones, not its neighbours', () => {
    const ev = slotEvidence([source(['foo/web', 'foo/web2', 'bar/web'], lines)], [request('foo/web')], { scenario: 's', meshMode: 'sidecar' });
    const texts = ev.cells.get('foo/web|8080|plaintext' as CellKey)?.logs?.lines.map((l) => l.text);
    // foo/web is a prefix of foo/web2 and a suffix of bar/web: neither of those lines is its.
    expect(texts).to.deep.equal(['sidecar: foo/web:8080 STRICT/tcp plaintext -> reset', 'sidecar: reload failed, keeping the previous configuration']);
  });

  it("a process serving one workload: every line in the window is the cell's, whatever it names", () => {
    const ev = slotEvidence([source(['foo/web'], lines)], [request('foo/web')], { scenario: 's', meshMode: 'sidecar' });
    expect(ev.cells.get('foo/web|8080|plaintext' as CellKey)?.logs?.lines).to.have.length(4);
  });
});
