import { expect } from 'chai';
import net from 'node:net';
import type { ClientKind, PortProtocol } from '../../src/model/index.js';
import { createMeshPki } from '../../src/pki/index.js';
import { createProbeContext, runProbe, type ProbeContext } from '../../src/probe/index.js';
import * as fx from './fixtures.js';

/** A server that answers the first bytes of every connection with `reply`, then closes or keeps the connection open. */
async function garbageServer(reply: string | Buffer, then: 'close' | 'hold'): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', () => (then === 'close' ? s.end(reply) : s.write(reply)));
  });
  await new Promise<void>((resolve) => server.listen(0, fx.HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('probe: a garbage reply is classified the same for every plaintext client', function () {
  this.timeout(60_000);
  let ctx: ProbeContext;
  before(() => {
    ctx = createProbeContext(createMeshPki({ trustDomain: 'cluster.local' }).probeMaterial());
  });

  const clients: [ClientKind, PortProtocol][] = [
    ['plaintext-tcp', 'tcp'],
    ['plaintext-http', 'http'],
    ['plaintext-http', 'tcp'],
  ];
  const replies: [string, string | Buffer, 'close' | 'hold'][] = [
    ['a text line, then close', 'garbage garbage\n', 'close'],
    ['a text line, connection held', 'garbage garbage\n', 'hold'],
    ['binary bytes without a newline, connection held', Buffer.from([0, 1, 2, 0xff, 0xfe]), 'hold'],
    ['text without a newline, then close', 'garbage', 'close'],
  ];
  for (const [name, reply, then] of replies) {
    it(`${name}: protocol-error denial for plaintext-tcp and plaintext-http alike`, async () => {
      const srv = await garbageServer(reply, then);
      try {
        for (const [client, protocol] of clients) {
          const o = await runProbe(fx.job(client, protocol, srv.port), ctx, { timeoutMs: 2000 });
          expect(o.status, `${client} on a ${protocol} port: ${JSON.stringify(o)}`).to.equal('denied');
          expect((o as { how: string }).how, `${client} on a ${protocol} port`).to.equal('protocol-error');
          expect((o as { detail: string }).detail).to.match(/^non-echo reply: /);
        }
      } finally {
        await srv.close();
      }
    });
  }

  it('bytes in the echo framing that do not parse stay an error for both clients', async () => {
    const srv = await garbageServer('MESHCONFORM-ECHO {oops\n', 'close');
    try {
      for (const [client, protocol] of clients) {
        const o = await runProbe(fx.job(client, protocol, srv.port), ctx, { timeoutMs: 2000 });
        expect(o.status, `${client} on a ${protocol} port`).to.equal('error');
      }
    } finally {
      await srv.close();
    }
  });
});
