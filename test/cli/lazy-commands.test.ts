// The CLI loads a command's module only when it runs; the top-level help comes from main.ts's command table, which
// must say exactly what the modules register.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { COMMANDS, main, mainWith } from '../../src/cli/main.js';

async function capture(run: (out: PassThrough, err: PassThrough) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (b: Buffer) => (chunks.out += String(b)));
  err.on('data', (b: Buffer) => (chunks.err += String(b)));
  const code = await run(out, err);
  return { code, ...chunks };
}

describe('CLI: commands load lazily', () => {
  it('the top-level help from the command table equals the help of every module loaded', async () => {
    const lazy = await capture((out, err) => main(['--help'], out, err));
    const eager = await capture((out, err) => mainWith(['--help'], out, err, { eager: true }));
    expect(lazy.code).to.equal(0);
    expect(eager.out).to.include('validate [options] <files...>');
    expect(lazy.out).to.equal(eager.out);
  });

  for (const entry of COMMANDS) {
    it(`\`${entry.name} --help\` and \`help ${entry.name}\` load the ${entry.name} module and show its own options`, async () => {
      const direct = await capture((out, err) => main([entry.name, '--help'], out, err));
      expect(direct.code).to.equal(0);
      expect(direct.out).to.match(new RegExp(`^Usage: meshconform ${entry.name} `));
      expect(direct.out).to.include('Options:');
      const viaHelp = await capture((out, err) => main(['help', entry.name], out, err));
      expect(viaHelp.out).to.equal(direct.out);
    });
  }

  it('an unknown command is a usage error naming it', async () => {
    const r = await capture((out, err) => main(['valdate'], out, err));
    expect(r.code).to.equal(2);
    expect(r.err).to.include("unknown command 'valdate'");
    expect(r.err).to.include('validate');
  });
});
