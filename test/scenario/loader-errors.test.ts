import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile, loadScenarios } from '../../src/scenario/index.js';
import { FIXTURES, lines, scenarioError } from './helpers.js';

const E = `${FIXTURES}/errors`;

/** Every line of the error for `name`, exactly: positions and wording are the product here. */
async function errorLines(name: string): Promise<string[]> {
  // The fixtures folder is the scenario folder tree: references may reach its sibling folders.
  return lines(await scenarioError(loadScenarioFile(`${E}/${name}`, { root: FIXTURES })));
}

describe('scenario loader errors (file:line:column)', () => {
  it('malformed YAML names the offending character', async () => {
    const out = await errorLines('malformed.yaml');
    expect(out[0]).to.match(new RegExp(`^${E}/malformed\\.yaml:5:29: invalid YAML: Flow sequence .* end with a \\]$`));
    for (const l of out) expect(l).to.match(/^test\/scenario\/fixtures\/errors\/malformed\.yaml:5:\d+: invalid YAML: /);
  });

  it('unknown fields, in the scenario and in a policy spec, point at the key and list what is allowed', async () => {
    expect(await errorLines('unknown-field.yaml')).to.deep.equal([
      `${E}/unknown-field.yaml:7:7: spec.workloads[0]: unknown field "replicas"; allowed fields: name, namespace, labels, serviceAccount, ports`,
      `${E}/unknown-field.yaml:13:31: spec.policies[0].spec.mtls: unknown field "level"; allowed fields: mode`,
    ]);
  });

  it('wrong types (label values that are numbers or booleans, ports not a list) are errors', async () => {
    expect(await errorLines('wrong-type.yaml')).to.deep.equal([
      `${E}/wrong-type.yaml:7:26: spec.workloads[0].labels.version: must be a string, not the number 1 (quote it: "1")`,
      `${E}/wrong-type.yaml:7:37: spec.workloads[0].labels.canary: must be a string, not the boolean true (quote it: "true")`,
      `${E}/wrong-type.yaml:8:14: spec.workloads[0].ports: must be a list, not the number 80`,
    ]);
  });

  it('an unknown mode is rejected at the mode value', async () => {
    expect(await errorLines('bad-mode.yaml')).to.deep.equal([
      `${E}/bad-mode.yaml:11:17: spec.policies[0].spec.mtls.mode: Unsupported value: "BLAH"; allowed modes: UNSET, DISABLE, PERMISSIVE, STRICT`,
    ]);
  });

  it('portLevelMtls without a labelled selector is rejected at the portLevelMtls key', async () => {
    const [only, ...rest] = await errorLines('port-level-no-selector.yaml');
    expect(rest).to.deep.equal([]);
    expect(only).to.match(new RegExp(`^${E}/port-level-no-selector\\.yaml:11:9: spec\\.policies\\[0\\]\\.spec: portLevelMtls requires selector`));
  });

  it('ports 0, 70000 and "abc" are rejected in workloads and in portLevelMtls', async () => {
    expect(await errorLines('bad-ports.yaml')).to.deep.equal([
      `${E}/bad-ports.yaml:7:15: spec.workloads[0].ports[0]: the number 0 is out of range; allowed: 1-65535`,
      `${E}/bad-ports.yaml:7:18: spec.workloads[0].ports[1]: the number 70000 is out of range; allowed: 1-65535`,
      `${E}/bad-ports.yaml:7:25: spec.workloads[0].ports[2]: must be an integer, not "abc"; allowed: a port number 1-65535, or { port: 1-65535, protocol: tcp|http }`,
      `${E}/bad-ports.yaml:7:40: spec.workloads[0].ports[3].port: the number 0 is out of range; allowed: 1-65535`,
      `${E}/bad-ports.yaml:15:11: spec.policies[0].spec.portLevelMtls: port must be between 1-65535, got 0`,
      `${E}/bad-ports.yaml:16:11: spec.policies[0].spec.portLevelMtls: port must be between 1-65535, got 70000`,
      `${E}/bad-ports.yaml:17:11: spec.policies[0].spec.portLevelMtls: port "abc" is not a port number; allowed: 1-65535`,
    ]);
  });

  it('a duplicate workload and a duplicate port name both places', async () => {
    const f = `${E}/duplicate-workload.yaml`;
    expect(await errorLines('duplicate-workload.yaml')).to.deep.equal([
      `${f}:6:44: spec.workloads[1].ports[2]: port 80 is declared twice in workload default/b (first at ${f}:6:26)`,
      `${f}:7:15: spec.workloads[2].name: duplicate workload foo/a: also declared at ${f}:5:7`,
    ]);
  });

  it('a duplicate YAML key is an error at the second key', async () => {
    expect(await errorLines('duplicate-key.yaml')).to.deep.equal([`${E}/duplicate-key.yaml:6:3: duplicate key "mode": a key may appear only once in a mapping`]);
  });

  it('expect entries must name a workload and port of the scenario, and known client kinds and outcomes', async () => {
    const f = `${E}/unknown-expect-workload.yaml`;
    const out = await errorLines('unknown-expect-workload.yaml');
    expect(out).to.have.length(4);
    expect(out[0]).to.equal(`${f}:7:19: spec.expect[1].workload: unknown workload "foo/nope"; workloads of this scenario: foo/a`);
    expect(out[1]).to.equal(`${f}:8:32: spec.expect[2].port: 81 is not a port of workload foo/a; its ports: 80`);
    expect(out[2]).to.match(
      new RegExp(`^${f}:9:26: spec\\.expect\\[3\\]: unknown field "telnet"; allowed fields: workload, port, meshMode, mode, plaintext, mtls, plaintext-tcp,`),
    );
    expect(out[3]).to.equal(`${f}:9:52: spec.expect[3].plaintext: "maybe" is not allowed; allowed: allow, deny, passthrough`);
  });

  it('metadata.name must equal the file stem; non-empty steps are not supported yet', async () => {
    expect(await errorLines('name-mismatch.yaml')).to.deep.equal([
      `${E}/name-mismatch.yaml:4:9: metadata.name: "something-else" must equal the file name stem "name-mismatch" (one scenario per file, named after it)`,
      `${E}/name-mismatch.yaml:8:5: spec.steps: steps are not supported yet: only \`steps: []\` is accepted in this version`,
    ]);
  });

  it('policy problems: timestamp, selector "*", empty portLevelMtls, duplicates, missing and broken referenced files', async () => {
    const f = `${E}/policy-problems.yaml`;
    expect(await errorLines('policy-problems.yaml')).to.deep.equal([
      `${f}:8:63: spec.policies[0].metadata.creationTimestamp: "yesterday" is not an RFC 3339 timestamp; allowed: for example "2024-01-01T00:00:00Z"`,
      `${f}:9:47: spec.policies[0].spec.selector.matchLabels.app: selector label value "*" is invalid: values may not be empty or contain "*"`,
      `${f}:9:56: spec.policies[0].spec: portLevelMtls must have at least 1 port when given (an empty portLevelMtls is rejected); remove it or add a port`,
      `${f}:12:25: spec.policies[1].metadata.name: duplicate PeerAuthentication foo/p: also defined at ${f}:6:7; a namespace/name may appear once per scenario`,
      `${f}:13:13: referenced file ${E}/missing-policies.yaml: no such file`,
      `${f}:15:23: spec.policies[4]: unknown field "extra"; allowed fields: file`,
      // The referenced file's own problem is located in that file.
      // A referenced file's text is never quoted (it could be any file): the problem only.
      `${FIXTURES}/unset/broken-policy-file.yaml:6:3: duplicate key (value not shown): a key may appear only once in a mapping (referenced from ${f}:14:13)`,
    ]);
  });

  it('policy file references must hold PeerAuthentications: not nothing, not a scenario, not a folder', async () => {
    const f = `${E}/ref-problems.yaml`;
    expect(await errorLines('ref-problems.yaml')).to.deep.equal([
      `${f}:6:13: policy file ${FIXTURES}/lists/only-comments.yaml holds no PeerAuthentication; expected one or more manifests or Lists`,
      `${f}:8:13: referenced file ${FIXTURES}/lists: is a directory, expected a YAML file`,
      `${FIXTURES}/suite/core/defaults.yaml:2:7: kind: expected a PeerAuthentication manifest or a List of them, not kind (value not shown) (referenced from ${f}:7:13)`,
    ]);
  });

  it('a YAML alias bomb is refused at the first alias, without expanding it', async () => {
    const out = await errorLines('alias-bomb.yaml');
    expect(out).to.have.length(1);
    expect(out[0]).to.match(new RegExp(`^${E}/alias-bomb\\.yaml:6:12: refusing to expand YAML aliases: .*at most 100 alias expansions`));
  });

  it('a file given explicitly must be a Scenario', async () => {
    expect(await errorLines('not-a-scenario.yaml')).to.deep.equal([
      `${E}/not-a-scenario.yaml:2:7: not a Scenario: its kind is "PeerAuthentication"; a file named explicitly must be a Scenario (apiVersion: meshconform.dev/v1alpha1, kind: Scenario)`,
    ]);
  });

  it('the error carries the first position as `pos`, and never a partial result', async () => {
    const err = await scenarioError(loadScenarioFile(`${E}/bad-ports.yaml`));
    expect(err.name).to.equal('ScenarioError');
    expect(err.pos).to.deep.equal({ file: `${E}/bad-ports.yaml`, line: 7, column: 15 });
  });

  it('collects the errors of every file into one ScenarioError', async () => {
    const err = await scenarioError(loadScenarios([`${E}/bad-mode.yaml`, `${E}/duplicate-key.yaml`, `${E}/wrong-type.yaml`]));
    const out = lines(err);
    expect(out).to.have.length(5);
    expect(out[0]).to.match(/bad-mode\.yaml:11:17: /);
    expect(out[1]).to.match(/duplicate-key\.yaml:6:3: /);
    expect(out.slice(2).every((l) => l.includes('wrong-type.yaml:'))).to.equal(true);
  });

  it('a missing path is a clear error naming it', async () => {
    const err = await scenarioError(loadScenarios([`${FIXTURES}/no-such-dir`]));
    expect(err.message).to.equal(`${FIXTURES}/no-such-dir: no such file or directory`);
  });

  describe('huge and empty files', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshconform-scenario-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a file larger than MAX_FILE_BYTES (4 MiB) before parsing it', async () => {
      const file = join(dir, 'huge.yaml');
      await writeFile(file, `# ${'x'.repeat(10 * 1024 * 1024)}\n`);
      const err = await scenarioError(loadScenarioFile(file));
      expect(err.message).to.match(new RegExp(`^${file}: file is too large \\(\\d+ bytes\\); files larger than 4 MiB`));
    });

    it('an empty scenario file given explicitly is an error', async () => {
      const file = join(dir, 'empty.yaml');
      await writeFile(file, '# nothing here\n');
      const err = await scenarioError(loadScenarioFile(file));
      expect(err.message).to.equal(`${file}:1:1: file is empty; expected a Scenario`);
    });
  });
});
