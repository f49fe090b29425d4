import { expect } from 'chai';
import { checkDefectNames, defectName, referenceDefects } from '../../src/run/reference-defects.js';
import { UsageError } from '../../src/util/errors.js';

async function usageError(specs: string[]): Promise<string> {
  try {
    await checkDefectNames(specs);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${specs.join(' ')}`);
}

describe('trust: --defect values', () => {
  it('the catalogue marks every defect static or chaos, and chaos ones exist', async () => {
    const catalogue = await referenceDefects();
    expect(catalogue.filter((d) => d.kind === 'chaos').map((d) => d.name)).to.include.members([
      'fail-open-on-restart',
      'stale-policy-after-reload',
      'accept-expired-during-rotation',
    ]);
    expect(catalogue.every((d) => d.kind === 'static' || d.kind === 'chaos')).to.equal(true);
  });

  it('accepts name and name=<ms> for a defect with a parameter', async () => {
    expect(await checkDefectNames(['fail-open-window=100', 'fail-open-on-restart'])).to.deep.equal(['fail-open-window=100', 'fail-open-on-restart']);
    expect(defectName('fail-open-window=100')).to.equal('fail-open-window');
  });

  it('refuses a value for a defect without a parameter, a non-numeric value, an unknown name, and one defect with two values', async () => {
    expect(await usageError(['strict-accepts-plaintext=5'])).to.match(/strict-accepts-plaintext takes no value/);
    expect(await usageError(['fail-open-window=1e3'])).to.match(/whole number of ms/);
    expect(await usageError(['fail-open-window=-1'])).to.match(/whole number of ms/);
    expect(await usageError(['no-such=1'])).to.match(/unknown defect "no-such=1"/);
    expect(await usageError(['fail-open-window=100', 'fail-open-window=200'])).to.match(/given twice with different values/);
  });
});
