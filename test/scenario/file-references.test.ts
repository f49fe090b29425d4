import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcess } from '../trust/support/cli.js';

const SECRET = 'S3CRET-c2VjcmV0LWtleS1tYXRlcmlhbA';

function scenario(refs: readonly string[]): string {
  return `apiVersion: meshconform.dev/v1alpha1
kind: Scenario
metadata: { name: refs, labels: { feature: f } }
spec:
  description: d
  workloads:
    - { name: a, namespace: foo, labels: { app: a }, ports: [8080] }
  policies:
${refs.map((r) => `    - { file: ${JSON.stringify(r)} }`).join('\n')}
`;
}

describe('scenario loader: { file: … } references never leak file contents', function () {
  this.timeout(60_000);
  let dir: string;
  let suite: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mc-refs-'));
    suite = join(dir, 'suite');
    mkdirSync(join(suite, 'nested'), { recursive: true });
    // Files that are not policies: a password hash, a key, a mapping with a secret value.
    writeFileSync(join(dir, 'shadow'), `root:$6$${SECRET}$x:19000:0:99999:7:::\n`);
    writeFileSync(join(suite, 'key.pem'), `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`);
    writeFileSync(join(suite, 'env.yaml'), `kind: ${SECRET}\n`);
    symlinkSync(join(dir, 'shadow'), join(suite, 'link.yaml'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const validate = async (refs: readonly string[], ...flags: string[]) => {
    const file = join(suite, 'nested', 'refs.yaml');
    writeFileSync(file, scenario(refs));
    return inProcess(['validate', suite, ...flags]);
  };

  it('refuses references outside the scenario folder tree (.., absolute, a symlink out, /proc/self/environ), naming the file', async () => {
    const r = await validate(['../../shadow', join(dir, 'shadow'), '../link.yaml', '/proc/self/environ']);
    expect(r.code).to.equal(2);
    const lines = r.err.trim().split('\n');
    expect(lines).to.have.length(4);
    for (const l of lines) expect(l).to.contain('is outside the scenario folder').and.contain('--allow-files-outside');
    expect(r.err).to.contain(`${dir}/shadow`).and.contain('/proc/self/environ').and.contain('link.yaml');
    expect(r.err + r.out)
      .to.not.contain(SECRET)
      .and.not.contain('root:');
  });

  it('names a file inside the tree that is not a policy file, without quoting it', async () => {
    const r = await validate(['../key.pem', '../env.yaml']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('key.pem').and.contain('env.yaml').and.contain('value not shown');
    expect(r.err + r.out).to.not.contain(SECRET);
  });

  it('--allow-files-outside reads a file outside the tree, still without quoting it', async () => {
    const r = await validate(['../../shadow', '/proc/self/environ'], '--allow-files-outside');
    expect(r.code).to.equal(2);
    expect(r.err).to.not.contain('is outside the scenario folder');
    expect(r.err).to.contain(`${dir}/shadow`);
    expect(r.err + r.out)
      .to.not.contain(SECRET)
      .and.not.contain('PATH=');
  });
});
