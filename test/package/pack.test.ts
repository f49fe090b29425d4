// The package as a user gets it: `npm pack` (which runs `prepare`, the build), the tarball installed into an empty
// folder from the npm cache, and the installed CLI running the built-in suite there. The pack runs in a copy of the
// checkout: its build starts by removing dist/, which tests running beside this one start the CLI from.
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/model/index.js';
import { copyCheckout } from '../support/checkout-copy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('npm pack: the installed package runs the built-in suite', function () {
  this.timeout(15 * 60_000);
  const work = mkdtempSync(join(tmpdir(), 'mc-pack-'));
  let tarball = '';
  let files: string[] = [];
  after(() => rmSync(work, { recursive: true, force: true }));

  before(async () => {
    const checkout = copyCheckout(join(work, 'checkout'));
    const r = await execa('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, reject: false, env: { npm_config_loglevel: 'error' } });
    expect(r.exitCode, r.stderr).to.equal(0);
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[]; size: number; unpackedSize: number }[];
    tarball = join(work, info!.filename);
    files = info!.files.map((f) => f.path);
    process.stdout.write(
      `      (${info!.filename}: ${files.length} files, ${(info!.size / 1024).toFixed(0)} KiB packed, ${(info!.unpackedSize / 1024).toFixed(0)} KiB unpacked)\n`,
    );
  });

  it('holds the compiled CLI, the harness, the built-in scenarios, the schemas and the docs, and no sources or tests', () => {
    for (const f of [
      'bin/meshconform.js',
      'dist/cli/main.js',
      'dist/report/html/assets/report.js',
      'dist/report/schemas/run-result.schema.json',
      'harness/reference/sidecar.mjs',
      'scenarios/profiles.yaml',
      'scenarios/core/no-policy-permissive.yaml',
      'schemas/scenario.schema.json',
      'mocha.js',
      'package.json',
      'README.md',
    ]) {
      expect(files, f).to.include(f);
    }
    expect(
      files.some((f) => f.startsWith('docs/')),
      'docs/',
    ).to.equal(true);
    const strays = files.filter((f) => /^(src|test|scripts|\.ci|reports|node_modules)\//.test(f) || f.endsWith('.ts') || f === 'tsconfig.json');
    expect(strays).to.deep.equal([]);
  });

  it('installs into an empty folder without the development tools, and `npx meshconform run` passes the built-in suite', async () => {
    const app = join(work, 'app');
    mkdirSync(app); // empty: no package.json, as a user starts
    const install = await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], { cwd: app, reject: false });
    expect(install.exitCode, `${install.stdout}\n${install.stderr}`).to.equal(0);
    const pkg = join(app, 'node_modules', 'meshconform');
    expect(() => statSync(join(pkg, 'src')), 'no src/ in the package').to.throw();
    expect(() => statSync(join(app, 'node_modules', 'tsx')), 'tsx is a development dependency').to.throw();
    const help = await execa('npx', ['--no-install', 'meshconform', '--help'], { cwd: app, reject: false });
    expect(help.exitCode, help.stderr).to.equal(0);
    expect(help.stdout).to.include('Usage: meshconform');
    const out = join(work, 'out');
    // On 127.60, below the /16s the local backend picks at random: no test running beside this one takes its addresses.
    const run = await execa('npx', ['--no-install', 'meshconform', 'run', join(pkg, 'scenarios'), '--out', out, '--reporter', 'json', '--local-subnet', '127.60'], {
      cwd: app,
      reject: false,
      env: { CI: 'true', NO_COLOR: '1' },
    });
    expect(run.exitCode, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`).to.equal(0);
    const report = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as RunResult;
    expect(report.summary.cells).to.be.greaterThan(100);
    expect(report.summary.failed + report.summary.errors).to.equal(0);
    expect(report.harness.version).to.equal((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });
});
