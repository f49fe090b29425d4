// The run's lifecycle: teardowns declared with their setups, one interrupt watcher with a fixed order.
import { expect } from 'chai';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { own, scope, task } from '../../src/run/lifecycle.js';

const fixture = fileURLToPath(new URL('./fixtures/lifecycle-order.ts', import.meta.url));

describe('lifecycle: setup and teardown pairs, one interrupt watcher', function () {
  this.timeout(60_000);

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: interrupt first, then the gates, then teardowns newest first (an aborted setup before older ones); nothing new starts; exit ${code}`, async () => {
      const child = execa(process.execPath, ['--import', 'tsx', fixture], { reject: false, timeout: 30_000 });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => String(d).includes('ready') && resolve());
        child.once('exit', () => reject(new Error('fixture exited before it was ready')));
      });
      child.kill(signal);
      const r = await child;
      expect(r.exitCode, r.stderr).to.equal(code);
      expect(r.stdout.trim().split('\n')).to.deep.equal([
        'ready',
        `interrupt ${signal}`,
        'gate session',
        'late task refused: late: not started, the run is being interrupted',
        'slow start aborted',
        'teardown environment',
        'teardown session',
        'teardown report hold',
      ]);
    });
  }

  it('a task whose setup fails owns no teardown; end() runs a teardown once, even when called twice', async () => {
    const ran: string[] = [];
    let failed: unknown;
    try {
      await task(
        'failing',
        async () => {
          throw new Error('setup failed');
        },
        () => void ran.push('failing teardown'),
      );
    } catch (err) {
      failed = err;
    }
    expect((failed as Error).message).to.equal('setup failed');
    const t = await task(
      'ok',
      async () => 42,
      (v) => void ran.push(`ok teardown ${v}`),
    );
    expect(t.value).to.equal(42);
    await Promise.all([t.end(), t.end()]);
    await t.end();
    expect(ran).to.deep.equal(['ok teardown 42']);
  });

  it('a scope closes newest first, reports every failure in one error, and a run-now clean-up is not repeated', async () => {
    const ran: string[] = [];
    const s = scope();
    s.own('a', async () => void ran.push('a'));
    const runB = s.own('b', async () => {
      ran.push('b');
    });
    s.own('c', async () => {
      ran.push('c');
      throw new Error('c broke');
    });
    await runB();
    let err: unknown;
    try {
      await s.close();
    } catch (e) {
      err = e;
    }
    expect(ran).to.deep.equal(['b', 'c', 'a']);
    expect((err as Error).message).to.match(/clean-up incomplete: c broke/);
    expect(s.interrupted()).to.equal(false);
    const o = own('released', () => void ran.push('released'));
    o.release();
    await o.end();
    expect(ran).to.not.include('released');
  });
});
