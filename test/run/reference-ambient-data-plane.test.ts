// `--data-plane reference-ambient`, and the reference data plane handing ambient scenarios to it.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { dataPlaneFor } from '../../src/run/data-plane-for-mode.js';
import { resolveDataPlane } from '../../src/run/data-plane.js';
import { UsageError } from '../../src/util/errors.js';

describe('run: reference-ambient data plane', function () {
  it('reference-ambient implements ambient mode only, through the contract, with --workloads-per-process', function () {
    const dp = resolveDataPlane('reference-ambient', 50);
    expect(dp).to.include({ name: 'reference-ambient', workloadsPerProcess: 50 });
    expect(dp.meshModes).to.deep.equal(['ambient']);
    expect(dp.argv[1]).to.match(/harness\/reference-ambient\/ambient-proxy\.mjs$/);
    expect(existsSync(dp.argv[1]!)).to.equal(true);
    expect(dataPlaneFor(dp, 'ambient')).to.deep.equal({ dataPlane: dp });
    const skip = dataPlaneFor(dp, 'sidecar');
    expect(skip).to.have.property('skip').that.includes('does not implement sidecar mode').and.includes('--data-plane reference');
  });

  it('reference runs sidecar scenarios itself and ambient ones on the reference ambient proxy', function () {
    const dp = resolveDataPlane('reference', 4);
    expect(dp.meshModes).to.deep.equal(['sidecar']);
    expect(dataPlaneFor(dp, 'sidecar')).to.deep.equal({ dataPlane: dp });
    const ambient = dataPlaneFor(dp, 'ambient');
    expect(ambient).to.have.property('dataPlane').that.deep.equals(resolveDataPlane('reference-ambient', 4));
  });

  it('a defect run has no companion: the defects live in the sidecar, ambient halves are skipped', function () {
    const dp = resolveDataPlane('reference', 1, ['newest-wins']);
    expect(dp.companion).to.equal(undefined);
    expect(dataPlaneFor(dp, 'ambient')).to.have.property('skip');
    expect(() => resolveDataPlane('reference-ambient', 1, ['newest-wins'])).to.throw(UsageError, /needs --data-plane reference/);
  });

  it('an unknown name lists reference-ambient among the choices', function () {
    expect(() => resolveDataPlane('ztunnel')).to.throw(UsageError, /"reference", "reference-ambient", "haproxy" or "exec:<command>"/);
  });
});
