// The helpers the local, netns and docker backends share: subnet claim, ownership, readiness, the run-wide sweep.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { stillOwned } from '../../../src/backend/common/ownership.js';
import { claimSubnet, ipToInt } from '../../../src/backend/common/pick-subnet.js';
import { waitReady, type ReadyWait } from '../../../src/backend/common/readiness.js';
import { createRunSweep } from '../../../src/backend/common/run-sweep.js';
import { processStartTime } from '../../../src/util/run-state.js';

async function rejection(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (err: Error) => err.message,
  );
}

describe('backend helpers shared by local, netns and docker', () => {
  describe('claimSubnet', () => {
    const base = { where: 'scenario s', takenBy: 'routed on this host' };

    it('takes a free /24; another pick when a concurrent process took it first, released from the claimed set', async () => {
      const tried: string[] = [];
      const claimed = new Set<string>();
      const got = await claimSubnet({ ...base, claimed, used: async () => [], take: async (b) => (tried.push(b), tried.length > 1) });
      expect(tried).to.have.length(2);
      expect(got).to.equal(tried[1]);
      expect([...claimed]).to.deep.equal([got]);
    });

    it('none free, or every pick taken meanwhile: one message saying so', async () => {
      const all = [{ base: ipToInt('198.18.0.0'), bits: 15 }];
      expect(await rejection(claimSubnet({ ...base, used: async () => all, take: async () => true }))).to.equal(
        'scenario s: no free /24 left in 198.18.0.0/15 (every one is routed on this host); run meshconform reap',
      );
      let takes = 0;
      const msg = await rejection(claimSubnet({ ...base, used: async () => [], take: async () => (takes++, false) }));
      expect(msg).to.match(/could not claim a free \/24 of 198\.18\.0\.0\/15 after 8 attempts/);
      expect(takes).to.equal(8);
    });
  });

  describe('stillOwned', () => {
    it('keeps a live owner, another host, and gives up a dead, reused or own pid', () => {
      expect(stillOwned({ pid: process.ppid })).to.equal(`its process ${process.ppid} is still running (use --all to remove it anyway)`);
      expect(stillOwned({ pid: process.ppid, pidStart: processStartTime(process.ppid) })).to.match(/still running/);
      expect(stillOwned({ pid: process.ppid, pidStart: -1 }), 'same pid, another start time: reused').to.equal(undefined);
      expect(stillOwned({ pid: process.pid })).to.equal(undefined);
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
      expect(stillOwned({ pid: Number(dead) })).to.equal(undefined);
      expect(stillOwned({ pid: 0 })).to.equal(undefined);
      expect(stillOwned({ pid: process.ppid, host: `${hostname()}-other` })).to.match(/^started on host .*-other \(use --all/);
      expect(stillOwned({ pid: process.ppid, host: hostname() })).to.match(/still running/);
    });
  });

  describe('waitReady', () => {
    let server: Server;
    let port = 0;
    before(async () => {
      server = createServer((s) => s.destroy());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    after(() => server.close());
    const wait = (endpoints: ReadyWait['endpoints'], exited: ReadyWait['exited'] = () => undefined): ReadyWait => ({
      label: 'data plane of foo/a',
      endpoints,
      exited,
      tail: () => ': last words',
    });

    it('resolves once every endpoint accepts TCP', async () => {
      await waitReady([wait([{ workload: 'foo/a', address: '127.0.0.1', port }])], { timeoutMs: 2000, where: 'scenario s' });
    });

    it('past the deadline: names what does not accept, with the tail', async () => {
      const closed = await freePort();
      const msg = await rejection(
        waitReady([wait([{ workload: 'foo/a', address: '127.0.0.1', port: closed }])], {
          timeoutMs: 50,
          where: 'scenario s',
        }),
      );
      expect(msg).to.equal(`scenario s: data plane of foo/a not ready after 50 ms: nothing accepts TCP from the host on foo/a port ${closed} (127.0.0.1:${closed}): last words`);
    });

    it('stops on an exit (the first in order, however many exited) and on the abort signal', async () => {
      const closed = await freePort();
      const endpoints = [{ workload: 'foo/a', address: '127.0.0.1', port: closed }];
      const exits = (message: string) => () => Promise.resolve(new Error(message));
      const waits = [wait(endpoints), wait(endpoints, exits('first exited')), wait(endpoints, exits('second exited'))];
      expect(await rejection(waitReady(waits, { timeoutMs: 5000, where: 's' }))).to.equal('first exited');
      const abort = new AbortController();
      const p = waitReady([wait(endpoints)], { timeoutMs: 60_000, where: 'scenario s', signal: abort.signal });
      setTimeout(() => abort.abort(), 30);
      expect(await rejection(p)).to.equal('scenario s: start interrupted');
    });
  });

  describe('run sweep', () => {
    it('a closed run starts nothing; removal sweeps again once the starts in flight settled', async () => {
      const sweep = createRunSweep();
      let release = () => {};
      const inflight = sweep.start('r1', () => new Promise<string>((r) => (release = () => r('env'))));
      let sweeps = 0;
      const removed = sweep.removeRun('r1', async () => {
        sweeps++;
        if (sweeps === 1) setTimeout(release, 20);
      });
      expect(await rejection(sweep.start('r1', async () => 'late'))).to.equal('run r1 is being cleaned up; no new environment starts');
      await removed;
      expect(await inflight).to.equal('env');
      expect(sweeps).to.equal(2);
      expect(await sweep.start('r2', async () => 'other run')).to.equal('other run');
    });
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}
