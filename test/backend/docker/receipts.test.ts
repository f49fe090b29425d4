// Application-side receipts on the docker backend: the echo app in the container writes them, the harness reads them
// with `docker exec` after each round. A data plane that hands STRICT plaintext to the app and resets the client
// fails on them, as on the local backend.
import { expect } from 'chai';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { createDockerBackend, ensureHarnessImage } from '../../../src/backend/docker/index.js';
import { loadScenarios } from '../../../src/scenario/index.js';
import { echoArgv, harnessFile, resolveDataPlane } from '../../../src/run/data-plane.js';
import { runSuite } from '../../../src/run/pipeline.js';
import { requireCapability } from '../../support/require.js';
import { dockerOrUndefined, e2eScenario, labelled, removeTempDirs, root, tempDir } from './support.js';

const ENGINE = 'a Docker engine (DOCKER_HOST)';

describe('docker backend: application-side receipts', function () {
  this.timeout(240_000);
  let docker: Dockerode | undefined;
  before(async () => {
    docker = await dockerOrUndefined();
  });
  after(removeTempDirs);

  const run = async (harnessDir: string, dataPlane: ReturnType<typeof resolveDataPlane>, echo: readonly string[], file: string) =>
    runSuite({
      scenarios: await loadScenarios([file]),
      paths: [file],
      backend: createDockerBackend({ harnessDir }),
      dataPlane,
      echoArgv: echo,
      retries: 1,
      concurrency: 8,
      timeoutMs: 3000,
      readyTimeoutMs: 60_000,
      parallelScenarios: 1,
    });

  it('the reference sidecar: receipts on the cells the app answered, none on the denied ones, every cell passes', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    const r = await run(harnessFile(''), resolveDataPlane('reference'), echoArgv(), e2eScenario('strict-and-permissive'));
    expect(r.summary).to.deep.include({ failed: 0, errors: 0, passed: r.summary.cells });
    const cells = r.scenarios.flatMap((s) => s.cells);
    for (const c of cells) {
      if (c.observed?.status === 'allowed') expect(c.observed.receipt, c.key).to.deep.equal({ workload: c.workload, port: c.port, received: c.observed.echo.received });
      else expect(c.observed?.receipt, c.key).to.equal(undefined);
    }
    expect(cells.filter((c) => c.observed?.receipt).length).to.be.greaterThan(5);
    expect(await labelled(docker!, r.runId)).to.deep.equal({ containers: [], networks: [] });
  });

  it('a data plane that forwards STRICT plaintext to the app and resets the client: those cells fail on the receipts', async function () {
    requireCapability(this, docker !== undefined, ENGINE);
    // The image holds only the harness folder: a copy with the fixture in it.
    const harnessDir = join(tempDir('mc-docker-receipts-'), 'harness');
    cpSync(harnessFile(''), harnessDir, { recursive: true });
    cpSync(join(root, 'test/fixtures/data-planes/plaintext-swallow.mjs'), join(harnessDir, 'hostile/plaintext-swallow.mjs'));
    const image = await ensureHarnessImage(docker!, harnessDir);
    try {
      const dataPlane = { name: 'exec:plaintext-swallow', argv: [process.execPath, join(harnessDir, 'hostile/plaintext-swallow.mjs')], workloadsPerProcess: 1 };
      const r = await run(harnessDir, dataPlane, [process.execPath, join(harnessDir, 'echo/echo-app.mjs')], join(root, 'test/fixtures/scenarios/strict-one-port.yaml'));
      expect(r.summary).to.deep.include({ cells: 9, passed: 7, failed: 2, errors: 0 });
      for (const c of r.scenarios[0]!.cells.filter((x) => x.client.startsWith('plaintext-'))) {
        expect(c.verdict, c.key).to.equal('fail');
        expect(c.observed?.status, c.key).to.equal('denied');
        expect(c.reason, c.key).to.contain("the application received the client's plaintext (its receipt of this probe)");
      }
      expect(await labelled(docker!, r.runId)).to.deep.equal({ containers: [], networks: [] });
    } finally {
      await docker!
        .getImage(image.ref)
        .remove()
        .catch(() => undefined);
    }
  });
});
