// ClientHello sniffing (Envoy's tls_inspector stand-in): real hellos from node:tls, re-fragmented and damaged.
import { expect } from 'chai';
import net from 'node:net';
import tls from 'node:tls';
import { MAX_CLIENT_HELLO, parseClientHello } from '../../harness/reference/client-hello.mjs';

/** The first flight a real node:tls client sends. */
async function captureHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (sock) => {
        let buf = Buffer.alloc(0);
        sock.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (parseClientHello(buf).kind !== 'need-more') {
            sock.destroy();
            resolve(buf);
          }
        });
      });
      const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      c.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello')), 5000).unref();
    });
  } finally {
    server.close();
  }
}

/** Split the handshake message of a single-record hello over several records of `size` bytes. */
function refragment(hello: Buffer, size: number): Buffer {
  const recLen = hello.readUInt16BE(3);
  const body = hello.subarray(5, 5 + recLen);
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const frag = body.subarray(i, i + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(frag.length, 3);
    out.push(header, frag);
  }
  return Buffer.concat(out);
}

describe('harness: ClientHello parsing', function () {
  let withAlpn: Buffer;
  let withoutAlpn: Buffer;

  before(async function () {
    withAlpn = await captureHello({ ALPNProtocols: ['istio-peer-exchange', 'istio'], servername: 'finance.foo.svc' });
    withoutAlpn = await captureHello({});
  });

  it('reads the ALPN list and SNI of a real hello', function () {
    const r = parseClientHello(withAlpn);
    expect(r).to.deep.include({ kind: 'client-hello', alpn: ['istio-peer-exchange', 'istio'], serverName: 'finance.foo.svc' });
  });

  it('reports no ALPN extension as null', function () {
    expect(parseClientHello(withoutAlpn)).to.deep.include({ kind: 'client-hello', alpn: null, serverName: null });
  });

  it('asks for more on every strict prefix of the hello', function () {
    for (let n = 0; n < withAlpn.length; n++) {
      expect(parseClientHello(withAlpn.subarray(0, n)).kind, `prefix ${n}`).to.equal('need-more');
    }
  });

  it('reassembles a hello fragmented over several handshake records', function () {
    for (const size of [1, 7, 100]) {
      const fragmented = refragment(withAlpn, size);
      expect(parseClientHello(fragmented)).to.deep.include({ kind: 'client-hello', alpn: ['istio-peer-exchange', 'istio'] });
      expect(parseClientHello(fragmented.subarray(0, fragmented.length - 1)).kind).to.equal('need-more');
    }
  });

  it('calls garbage not TLS', function () {
    const cases: Buffer[] = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from([0x16, 0x02, 0x01, 0x00, 0x01, 0x01]), // SSL 2-ish version
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), // empty record
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), // ServerHello type
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]), // hello too short to hold a version
    ];
    for (const c of cases) expect(parseClientHello(c).kind, c.toString('hex')).to.equal('not-tls');
    // a damaged ALPN extension: zero-length protocol name
    const damaged = Buffer.from(withAlpn);
    const at = damaged.indexOf(Buffer.from('istio-peer-exchange'));
    damaged[at - 1] = 0;
    expect(parseClientHello(damaged).kind).to.equal('not-tls');
  });

  it('refuses a hello longer than the inspector limit', function () {
    const header = Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x02, 0x00, 0x00]); // claims a 128 KiB message
    expect(parseClientHello(header).kind).to.equal('too-large');
    expect(MAX_CLIENT_HELLO).to.equal(65536);
  });

  it('never throws on random bytes behind a handshake header', function () {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(Array.from({ length: 1 + (i % 300) }, rand));
      const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff]), body]);
      expect(['not-tls', 'need-more', 'client-hello', 'too-large']).to.include(parseClientHello(record).kind);
    }
    // and on random mutations of a real hello
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(withAlpn);
      m[5 + ((rand() * 256 + rand()) % (m.length - 5))] = rand();
      expect(() => parseClientHello(m)).to.not.throw();
    }
  });
});
