// scripts/check-deps.ts on small trees: each rule of docs/architecture.md#folders-and-import-rules catches its violation.
import { expect } from 'chai';
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/check-deps.ts', import.meta.url));

async function check(files: Record<string, string>): Promise<{ exitCode: number | undefined; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mc-deps-'));
  try {
    for (const [path, text] of Object.entries({ './harness/x.mjs': '', './src/model/index.ts': '', ...files })) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = await execa(process.execPath, ['--import', 'tsx', script, dir], { reject: false });
    return { exitCode: r.exitCode, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('import rules (npm run check:deps)', function () {
  this.timeout(60_000);

  it('a clean tree passes: backends use common, the agent uses probe, run uses every stage', async () => {
    const r = await check({
      './src/backend/common/a.ts': "import '../../model/index.js';",
      './src/backend/local/b.ts': "import '../common/a.js';\nimport '../host.js';",
      './src/backend/host.ts': "import '../model/index.js';",
      './src/probe/p.ts': "import '../model/index.js';",
      './src/agent/main.ts': "import '../probe/p.js';",
      './src/run/pipeline.ts': "import '../backend/local/b.js';\nimport '../probe/p.js';",
    });
    expect(r.exitCode, r.stderr).to.equal(0);
  });

  it('a backend importing another backend, common importing a backend, the agent importing run, a stage importing run: each named', async () => {
    const r = await check({
      './src/backend/local/b.ts': "import '../netns/n.js';",
      './src/backend/netns/n.ts': '',
      './src/backend/common/a.ts': "import '../docker/d.js';",
      './src/backend/docker/d.ts': '',
      './src/agent/main.ts': "import '../run/pipeline.js';",
      './src/run/pipeline.ts': '',
      './src/probe/p.ts': "import '../run/pipeline.js';",
    });
    expect(r.exitCode).to.equal(1);
    expect(r.stderr).to.match(/src\/backend\/local\/b\.ts:1: src\/backend\/local must not import src\/backend\/netns/);
    expect(r.stderr).to.match(/src\/backend\/common\/a\.ts:1: src\/backend\/common must not import src\/backend\/docker/);
    expect(r.stderr).to.match(/src\/agent\/main\.ts:1: src\/agent must not import src\/run/);
    expect(r.stderr).to.match(/src\/probe\/p\.ts:1: src\/probe must not import src\/run/);
  });
});
