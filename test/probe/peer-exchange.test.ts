// Istio's TCP metadata exchange: the codecs (src/probe/peer-exchange.ts, harness/common/peer-exchange.mjs) and the
// mtls-tcp client (the host prober's, which the probe agent bundles) against real TLS servers that do it, botch it,
// or never do it.
import { expect } from 'chai';
import * as mjs from '../../harness/common/peer-exchange.mjs';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { createProbeContext, PROBE_LINE_PREFIX, runProbe, type ProbeContext } from '../../src/probe/index.js';
import * as ts from '../../src/probe/peer-exchange.js';
import * as fx from './fixtures.js';
import { startMxServer, type MxBehaviour } from './mx-fixtures.js';

const ID = { workload: 'foo/finance', port: 9000 };
const FINANCE = 'spiffe://cluster.local/ns/foo/sa/finance';
const TIMEOUT_MS = 3000;

describe('probe: Istio metadata exchange (istio-peer-exchange)', function () {
  describe('codec', function () {
    it('encodes a Struct exactly as protobuf does (map entry {key=1, value=2}, Value.string_value=3)', function () {
      const bytes = [0x0a, 0x08, 0x0a, 0x01, 0x61, 0x12, 0x03, 0x1a, 0x01, 0x62];
      expect([...ts.encodeStruct({ a: 'b' })]).to.deep.equal(bytes);
      expect([...mjs.encodeStruct({ a: 'b' })]).to.deep.equal(bytes);
    });

    it('a preamble: magic 0x3D230467 and length in network order, an Any of a Struct; both codecs agree byte for byte', function () {
      const md = { NAME: 'finance-7d9f', NAMESPACE: 'foo', WORKLOAD_NAME: 'finance' };
      const a = ts.encodePreamble(md, 'sidecar~1.2.3.4~finance-7d9f.foo~foo.svc.cluster.local');
      const b = mjs.encodePreamble(md, 'sidecar~1.2.3.4~finance-7d9f.foo~foo.svc.cluster.local');
      expect(a.equals(b)).to.equal(true);
      expect([...a.subarray(0, 4)]).to.deep.equal([0x3d, 0x23, 0x04, 0x67]);
      expect(a.readUInt32BE(4)).to.equal(a.length - 8);
      const any = ts.decodeAny(a.subarray(8));
      expect(any.typeUrl).to.equal('type.googleapis.com/google.protobuf.Struct');
      expect(ts.decodeStruct(any.value)).to.deep.equal({ 'x-envoy-peer-metadata': md, 'x-envoy-peer-metadata-id': 'sidecar~1.2.3.4~finance-7d9f.foo~foo.svc.cluster.local' });
      for (const read of [ts.readPreamble, mjs.readPreamble]) {
        expect(read(Buffer.concat([a, Buffer.from('MESHCONFORM-ECHO {}\n')]))).to.deep.equal({ state: 'ok', consumed: a.length, peer: { workload: 'finance', namespace: 'foo' } });
      }
    });

    it('peer name: WORKLOAD_NAME, else NAME; metadata at the top level is read too', function () {
      const top = ts.framePayload(ts.encodeAny(ts.STRUCT_TYPE_URL, ts.encodeStruct({ NAME: 'pod-1', NAMESPACE: 'bar' })));
      expect(ts.readPreamble(top)).to.deep.equal({ state: 'ok', consumed: top.length, peer: { workload: 'pod-1', namespace: 'bar' } });
      expect(mjs.readPreamble(top)).to.deep.equal({ state: 'ok', consumed: top.length, peer: { workload: 'pod-1', namespace: 'bar' } });
      const other = ts.framePayload(ts.encodeAny('type.googleapis.com/foo.Bar', Buffer.from([0x08, 0x01])));
      expect(ts.readPreamble(other)).to.deep.equal({ state: 'ok', consumed: other.length, peer: {} });
    });

    for (const [name, read] of [
      ['ts', ts.readPreamble],
      ['mjs', mjs.readPreamble],
    ] as const) {
      it(`${name} readPreamble: no magic, magic prefixes, absurd length, truncated and garbage payloads`, function () {
        const good = ts.encodePreamble({ WORKLOAD_NAME: 'w', NAMESPACE: 'n' });
        expect(read(Buffer.from('MESHCONFORM-ECHO {}\n'))).to.deep.equal({ state: 'none' });
        expect(read(Buffer.from([0x3d, 0x24]))).to.deep.equal({ state: 'none' });
        expect(read(Buffer.from([0x3d, 0x23, 0x00, 0x00, 0, 0, 0, 0]))).to.deep.equal({ state: 'none' });
        expect(read(Buffer.from([0x3d]))).to.deep.equal({ state: 'need-more' });
        expect(read(good.subarray(0, 7))).to.deep.equal({ state: 'need-more' });
        expect(read(good.subarray(0, good.length - 1))).to.deep.equal({ state: 'need-more' });
        const absurd = Buffer.from([0x3d, 0x23, 0x04, 0x67, 0x7f, 0xff, 0xff, 0xff]);
        expect(read(absurd)).to.have.property('state', 'bad');
        expect((read(absurd) as { why: string }).why).to.match(/2147483647 bytes exceeds the 65536-byte limit/);
        expect(read(ts.framePayload(Buffer.alloc(65 * 1024)))).to.have.property('state', 'bad');
        // Wire type 7 does not exist; a length-delimited field that runs past the end.
        expect(read(ts.framePayload(Buffer.from([0x0f, 0x00])))).to.have.property('state', 'bad');
        expect(read(ts.framePayload(Buffer.from([0x0a, 0x09, 0x61])))).to.have.property('state', 'bad');
        // An Any whose Struct is malformed.
        expect(read(ts.framePayload(ts.encodeAny(ts.STRUCT_TYPE_URL, Buffer.from([0x0a, 0x05, 0x0a]))))).to.have.property('state', 'bad');
      });
    }

    it('server side (readClientHeader): waits for 8 bytes, passes bytes without the magic, drains a header (and an Any payload)', function () {
      expect(mjs.readClientHeader(Buffer.from('MESHCON'))).to.deep.equal({ state: 'need-more' });
      expect(mjs.readClientHeader(Buffer.from('MESHCONFORM-PROBE k\n'))).to.deep.equal({ state: 'none' });
      const hdr = ts.PROBE_MX_HEADER;
      expect(mjs.readClientHeader(hdr.subarray(0, hdr.length - 1))).to.deep.equal({ state: 'need-more' });
      expect(mjs.readClientHeader(Buffer.concat([hdr, Buffer.from('line\n')]))).to.deep.equal({ state: 'consumed', consumed: hdr.length, peer: { workload: 'meshconform-probe' } });
      // A payload that is not an Any: only the 8-byte header is drained, the payload reaches the app.
      expect(mjs.readClientHeader(Buffer.concat([ts.framePayload(Buffer.from([0xff, 0xff])), Buffer.from('line\n')]))).to.deep.equal({ state: 'consumed', consumed: 8 });
    });
  });

  describe('mtls-tcp against real TLS servers', function () {
    let pki: MeshPki;
    let ctx: ProbeContext;
    const servers: fx.TestServer[] = [];
    const start = async <T extends fx.TestServer>(s: Promise<T>): Promise<T> => {
      const server = await s;
      servers.push(server);
      return server;
    };

    before(function () {
      pki = createMeshPki({ trustDomain: 'cluster.local' });
      ctx = createProbeContext(pki.probeMaterial());
    });
    after(async function () {
      await Promise.all(servers.map((s) => s.close()));
    });

    const clients = {
      'host prober': (port: number, timeoutMs = TIMEOUT_MS) => runProbe(fx.job('mtls-tcp', 'tcp', port, FINANCE), ctx, { timeoutMs }),
    };

    for (const [who, probe] of Object.entries(clients)) {
      describe(who, function () {
        it('Envoy-like server: preamble consumed, peer workload and namespace recorded, only the probe line reaches the app', async function () {
          const srv = await start(startMxServer(pki, ID, 'envoy'));
          const o = await probe(srv.port);
          expect(o.status, JSON.stringify(o)).to.equal('allowed');
          expect(o.tls?.alpn).to.equal('istio-peer-exchange');
          expect(o.mx).to.deep.equal({ seen: true, workload: 'finance', namespace: 'foo' });
          expect(srv.appBytes).to.have.length(1);
          expect(srv.appBytes[0]!.toString('latin1')).to.match(new RegExp(`^${PROBE_LINE_PREFIX}probe-test\\|[^\\n]*\\n$`));
        });

        it('a server that negotiates the ALPN but never does MX: still allowed, no mx recorded', async function () {
          const srv = await start(fx.startMeshProxy(pki, 'tcp', ID));
          const o = await probe(srv.port);
          expect(o.status, JSON.stringify(o)).to.equal('allowed');
          expect(o.tls?.alpn).to.equal('istio-peer-exchange');
          expect(o).to.not.have.property('mx');
        });

        it('bad magic after that ALPN: no MX, the bytes are judged as usual (not the echo line: a protocol error)', async function () {
          const srv = await start(startMxServer(pki, ID, 'bad-magic'));
          const o = await probe(srv.port);
          expect(o.status, JSON.stringify(o)).to.equal('denied');
          expect(o).to.include({ how: 'protocol-error' });
          expect(o).to.not.have.property('mx');
        });

        const broken: [MxBehaviour, RegExp][] = [
          ['absurd', /^istio-peer-exchange preamble: preamble length 2147483647 bytes exceeds the 65536-byte limit/],
          ['truncated', /^istio-peer-exchange preamble: truncated: the connection ended after 5 of 40 payload bytes/],
          ['slow', /^istio-peer-exchange preamble: incomplete within the probe deadline: 5 of 40 payload bytes arrived/],
        ];
        for (const [behaviour, message] of broken) {
          it(`${behaviour === 'absurd' ? 'an' : 'a'} ${behaviour} preamble is a typed error (never a denial, never a hang)`, async function () {
            const srv = await start(startMxServer(pki, ID, behaviour));
            const o = await probe(srv.port, behaviour === 'slow' ? 1000 : TIMEOUT_MS);
            expect(o.status, JSON.stringify(o)).to.equal('error');
            expect((o as { message: string }).message).to.match(message);
          });
        }
      });
    }
  });
});
