import { expect } from 'chai';
import net from 'node:net';
import { startFaultProxy, type FaultProxy } from '../../src/chaos/index.js';

/** An upstream that answers every line with `echo:<line>` and counts its connections. */
async function echoServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends `payload` through the proxy; resolves with what came back and how the connection ended. */
function exchange(
  port: number,
  payload: string,
  waitMs = 1500,
  complete = (data: string) => data.replace(/echo:/g, '').length >= payload.length,
): Promise<{ data: string; end: 'reply' | 'reset' | 'closed' | 'silent'; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (end: 'reply' | 'reset' | 'closed' | 'silent') => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data, end, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done('silent'), waitMs);
    s.on('connect', () => s.write(payload));
    s.on('data', (d) => {
      data += d.toString();
      if (complete(data)) done('reply');
    });
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNRESET' ? 'reset' : 'closed'));
    s.on('end', () => done('closed'));
  });
}

describe('fault-injecting TCP proxy', () => {
  let up: Awaited<ReturnType<typeof echoServer>>;
  let proxy: FaultProxy;
  beforeEach(async () => {
    up = await echoServer();
    proxy = await startFaultProxy({ address: '127.0.0.1', port: up.port });
  });
  afterEach(async () => {
    await proxy.close();
    await up.close();
  });

  it('forwards untouched without a toxic, on the main and the canary listener', async () => {
    expect(await exchange(proxy.port, 'hello')).to.include({ data: 'echo:hello', end: 'reply' });
    expect(await exchange(proxy.canaryPort, 'canary')).to.include({ data: 'echo:canary', end: 'reply' });
    expect(proxy.lastCanary()).to.include({ bytesUp: 6, bytesDown: 11, fate: 'forwarded' });
  });

  it('latency: a request and its answer each wait at least the delay', async () => {
    proxy.setToxic({ kind: 'latency', ms: 120 });
    const r = await exchange(proxy.port, 'slow');
    expect(r).to.include({ data: 'echo:slow', end: 'reply' });
    expect(r.ms).to.be.at.least(2 * 120 - 5); // a lower bound set by the proxy's own timers, never flaky
    proxy.setToxic(undefined);
    expect(await exchange(proxy.port, 'fast')).to.include({ data: 'echo:fast', end: 'reply' });
  });

  it('bandwidth: a 4 KiB payload at 8 KiB/s takes at least half a second to get through', async () => {
    proxy.setToxic({ kind: 'bandwidth', bytesPerSecond: 8192 });
    const payload = 'x'.repeat(4096);
    const r = await exchange(proxy.canaryPort, payload, 5000);
    expect(r.end).to.equal('reply');
    expect(r.data.replace(/echo:/g, '')).to.equal(payload); // the upstream answers each 1 KiB piece as it comes
    expect(r.ms).to.be.at.least(500 - 5); // the proxy paces 1 KiB pieces; the answers come back while later pieces wait
    expect(proxy.lastCanary()!.bytesUp).to.equal(4096);
  });

  it('reset: new connections are reset without reaching the upstream; lifting it restores them', async () => {
    proxy.setToxic({ kind: 'reset' });
    const before = up.connections();
    expect((await exchange(proxy.port, 'x')).end).to.equal('reset');
    expect(up.connections()).to.equal(before);
    proxy.setToxic(undefined);
    expect(await exchange(proxy.port, 'y')).to.include({ data: 'echo:y', end: 'reply' });
  });

  it('blackhole: connections are accepted and nothing comes back; lifting it closes what it held', async () => {
    proxy.setToxic({ kind: 'blackhole' });
    const held = exchange(proxy.port, 'void', 10_000);
    expect((await exchange(proxy.port, 'void', 300)).end).to.equal('silent');
    proxy.setToxic(undefined);
    expect((await held).end).to.equal('closed');
    expect(proxy.lastCanary()).to.equal(undefined);
  });

  it('partition: an open connection stops carrying data too', async () => {
    const s = net.connect({ host: '127.0.0.1', port: proxy.port });
    await new Promise<void>((r) => s.once('connect', () => r()));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('error', () => {});
    s.write('one');
    while (got !== 'echo:one') await new Promise((r) => setTimeout(r, 10));
    proxy.setToxic({ kind: 'partition' });
    s.write('two');
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    await new Promise((r) => setTimeout(r, 200));
    expect(got).to.equal('echo:one');
    proxy.setToxic(undefined);
    await closed;
  });

  it('close() ends every connection and stops listening', async () => {
    proxy.setToxic({ kind: 'blackhole' });
    const held = exchange(proxy.port, 'void', 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await proxy.close();
    expect((await held).end).to.equal('closed');
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: proxy.port });
      s.on('connect', () => (s.destroy(), resolve('accepted')));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).to.equal('ECONNREFUSED');
  });
});
