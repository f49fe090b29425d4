import { readdirSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { ClientKind, Observation, PortProtocol, ProbeJob } from '../../src/model/index.js';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { createProbeContext, runProbes, type ProbeContext } from '../../src/probe/index.js';
import { ProbeError } from '../../src/util/errors.js';
import * as fx from './fixtures.js';

const ID = { workload: 'foo/finance', port: 8080 };
const FINANCE = 'spiffe://cluster.local/ns/foo/sa/finance';
const openFds = () => readdirSync('/proc/self/fd').length;

/** Bounded wait for a condition driven by socket events (not a timing assertion: it only waits for cleanup). */
async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`gave up waiting: ${what}`);
}

describe('probe: runProbes', function () {
  let pki: MeshPki;
  let ctx: ProbeContext;
  before(function () {
    pki = createMeshPki({ trustDomain: 'cluster.local' });
    ctx = createProbeContext(pki.probeMaterial());
  });

  it('completes 200 mixed probes at concurrency 16 and leaves no socket open', async function () {
    const servers = {
      meshTcp: await fx.startMeshProxy(pki, 'tcp', ID),
      meshHttp: await fx.startMeshProxy(pki, 'http', ID),
      plainTcp: await fx.startPlainEcho('tcp', ID),
      plainHttp: await fx.startPlainEcho('http', ID),
    };
    const refusedPort = await fx.freePort();
    try {
      const kinds: { client: ClientKind; protocol: PortProtocol; port: number; expect: Observation['status'] }[] = [
        { client: 'mtls-tcp', protocol: 'tcp', port: servers.meshTcp.port, expect: 'allowed' },
        { client: 'mtls-http', protocol: 'http', port: servers.meshHttp.port, expect: 'allowed' },
        { client: 'plaintext-tcp', protocol: 'tcp', port: servers.plainTcp.port, expect: 'allowed' },
        { client: 'plaintext-http', protocol: 'http', port: servers.plainHttp.port, expect: 'allowed' },
        { client: 'tls-no-client-cert', protocol: 'tcp', port: servers.meshTcp.port, expect: 'denied' },
        { client: 'mtls-foreign-ca', protocol: 'http', port: servers.meshHttp.port, expect: 'denied' },
        { client: 'plaintext-http', protocol: 'http', port: servers.meshHttp.port, expect: 'denied' },
        { client: 'mtls-tcp', protocol: 'tcp', port: refusedPort, expect: 'denied' },
      ];
      const jobs: ProbeJob[] = [];
      const want = new Map<string, Observation['status']>();
      for (let i = 0; i < 200; i++) {
        const k = kinds[i % kinds.length]!;
        const j = fx.job(k.client, k.protocol, k.port, FINANCE);
        jobs.push(j);
        want.set(j.key, k.expect);
      }
      const baseline = openFds();
      let callbacks = 0;
      const results = await runProbes(jobs, ctx, {
        concurrency: 16,
        timeoutMs: 10_000,
        onResult: () => {
          callbacks++;
        },
      });

      expect(results.size).to.equal(200);
      expect(callbacks).to.equal(200);
      for (const j of jobs) {
        const o = results.get(j.key)!;
        expect(o.status, `${j.client} → ${JSON.stringify(o)}`).to.equal(want.get(j.key));
        expect(o.attempts).to.equal(1);
      }
      await eventually(() => Object.values(servers).every((s) => s.openSockets() === 0), 'server-side sockets to close');
      expect(openFds()).to.be.at.most(baseline);
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.close()));
    }
  });

  it('never has more than `concurrency` connections waiting at the server', async function () {
    // The server answers only the oldest held connection every few ms; an unbounded runner would pile up all 40.
    const held: net.Socket[] = [];
    let maxHeld = 0;
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        held.push(s);
        maxHeld = Math.max(maxHeld, held.length);
      });
    });
    await new Promise<void>((r) => server.listen(0, fx.HOST, r));
    const release = setInterval(() => held.shift()?.end(`MESHCONFORM-ECHO ${JSON.stringify({ ...ID, received: 'plaintext', protocol: 'tcp' })}\n`), 3);
    try {
      const port = (server.address() as AddressInfo).port;
      const jobs = Array.from({ length: 40 }, () => fx.job('plaintext-tcp', 'tcp', port));
      const results = await runProbes(jobs, ctx, { concurrency: 5, timeoutMs: 20_000 });
      expect([...results.values()].every((o) => o.status === 'allowed')).to.equal(true);
      expect(maxHeld).to.be.at.most(5);
      expect(maxHeld).to.be.at.least(1);
    } finally {
      clearInterval(release);
      await new Promise((r) => server.close(r));
    }
  });

  it('rejects bad options and duplicate job keys with a ProbeError', async function () {
    const j = fx.job('plaintext-tcp', 'tcp', 1);
    for (const bad of [
      () => runProbes([j], ctx, { concurrency: 0, timeoutMs: 100 }),
      () => runProbes([j], ctx, { concurrency: 1, timeoutMs: 0 }),
      () => runProbes([j, j], ctx, { concurrency: 1, timeoutMs: 100 }),
    ]) {
      let err: unknown;
      try {
        await bad();
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ProbeError);
    }
  });

  it('stops scheduling and rejects, with the cause, when onResult throws', async function () {
    const port = await fx.freePort();
    const jobs = Array.from({ length: 10 }, () => fx.job('plaintext-tcp', 'tcp', port));
    const boom = new Error('progress bar broke');
    let calls = 0;
    let err: unknown;
    try {
      await runProbes(jobs, ctx, {
        concurrency: 1,
        timeoutMs: 1000,
        onResult: () => {
          calls++;
          throw boom;
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ProbeError);
    expect((err as ProbeError).cause).to.equal(boom);
    expect(calls).to.equal(1);
  });

  it('returns an empty map for no jobs', async function () {
    expect((await runProbes([], ctx, { concurrency: 4, timeoutMs: 100 })).size).to.equal(0);
  });
});

describe('probe: a starved harness is never evidence of a denial', function () {
  let ctx: ProbeContext;
  before(function () {
    ctx = createProbeContext(createMeshPki({ trustDomain: 'cluster.local' }).probeMaterial());
  });

  it('a timeout while the harness event loop was blocked is an error; the same timeout otherwise is a denial', async function () {
    const silent = await fx.startSilentServer();
    try {
      const calm = await runProbes([fx.job('plaintext-tcp', 'tcp', silent.port)], ctx, { concurrency: 1, timeoutMs: 300 });
      expect([...calm.values()][0]).to.deep.include({ status: 'denied', how: 'timeout' });

      const starved = runProbes([fx.job('plaintext-tcp', 'tcp', silent.port)], ctx, { concurrency: 1, timeoutMs: 300 });
      // Block the harness for longer than the probe's whole deadline, as a CPU-starved harness would be.
      await new Promise((r) => setTimeout(r, 20));
      const until = Date.now() + 400;
      while (Date.now() < until) {
        /* busy: the event loop cannot run */
      }
      const obs = [...(await starved).values()][0]!;
      expect(obs.status).to.equal('error');
      expect(obs.status === 'error' && obs.message).to.match(/starved/);
    } finally {
      await silent.close();
    }
  });
});
