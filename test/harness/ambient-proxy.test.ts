// The reference ambient proxy and the echo app as real processes, probed by the real probes: direct clients on the
// workload ports (the captured-plaintext path) and HBONE clients (HTTP/2 CONNECT over mTLS to :15008). The
// expectation table is this file's own reading of spec §6, independent of src/oracle.
import { expect } from 'chai';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_KINDS,
  type ClientKind,
  type ExpectedOutcome,
  type Observation,
  type PeerAuthenticationManifest,
  type PortProtocol,
  type ProbeJob,
  type WorkloadConfig,
} from '../../src/model/index.js';
import { createMeshPki, type MeshPki } from '../../src/pki/index.js';
import { createProbeContext, hboneUnservedPort, runProbe, type ProbeContext } from '../../src/probe/index.js';
import { ECHO_APP, startChild, stopChild, type Child } from './support/child.js';
import { policy, randomLoopback, writeJsonAtomic } from './support/fixture.js';

const AMBIENT_PROXY = fileURLToPath(new URL('../../harness/reference-ambient/ambient-proxy.mjs', import.meta.url));
const TIMEOUT_MS = 5000;
const A = 'allow',
  P = 'passthrough',
  D = 'deny';

/**
 * Spec §6 per client kind: [STRICT, PERMISSIVE] (DISABLE behaves as PERMISSIVE, R6.5). Direct clients have no peer
 * identity: STRICT closes them (R6.3), PERMISSIVE relays their bytes untouched, so TLS reaches the app (R6.4).
 * HBONE needs a mesh certificate of the trust domain whatever the mode (R6.7) and a served port.
 */
const TABLE: Record<ClientKind, [ExpectedOutcome, ExpectedOutcome]> = {
  'plaintext-tcp': [D, A],
  'plaintext-http': [D, A],
  'mtls-tcp': [D, P],
  'mtls-http': [D, P],
  'tls-no-client-cert': [D, P],
  'mtls-foreign-ca': [D, P],
  'mtls-expired': [D, P],
  'mtls-other-trust-domain': [D, P],
  'tls-no-istio-alpn': [D, P],
  hbone: [A, A],
  'hbone-no-client-cert': [D, D],
  'hbone-foreign-ca': [D, D],
  'hbone-expired': [D, D],
  'hbone-other-trust-domain': [D, D],
  'hbone-unserved-port': [D, D],
};

type Configured = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
const PORTS: readonly { port: number; protocol: PortProtocol; configured: Configured }[] = [
  { port: 8001, protocol: 'tcp', configured: 'STRICT' },
  { port: 8002, protocol: 'tcp', configured: 'PERMISSIVE' },
  { port: 8003, protocol: 'tcp', configured: 'DISABLE' },
  { port: 8004, protocol: 'http', configured: 'STRICT' },
  { port: 8005, protocol: 'http', configured: 'PERMISSIVE' },
  { port: 8006, protocol: 'http', configured: 'DISABLE' },
];
// Mesh STRICT; the workload policy inherits it (UNSET) and overrides ports.
const POLICIES: PeerAuthenticationManifest[] = [
  policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }),
  policy('foo', 'finance', {
    selector: { matchLabels: { app: 'finance' } },
    mtls: { mode: 'UNSET' },
    portLevelMtls: { '8002': { mode: 'PERMISSIVE' }, '8003': { mode: 'DISABLE' }, '8005': { mode: 'PERMISSIVE' }, '8006': { mode: 'DISABLE' } },
  }),
];

interface Workload {
  readonly namespace: string;
  readonly name: string;
  readonly address: string;
  readonly ports: readonly { port: number; protocol: PortProtocol }[];
}

/** stdout and stderr are separate pipes: a stderr line may land after the stdout line that followed it. Bounded wait. */
async function stderrMatches(child: Child, re: RegExp): Promise<void> {
  for (let i = 0; i < 200 && !re.test(child.stderr()); i++) await new Promise((r) => setTimeout(r, 10));
  expect(child.stderr()).to.match(re);
}

function outcomeOf(o: Observation): ExpectedOutcome | 'error' {
  if (o.status === 'allowed') return o.path === 'passthrough' ? P : A;
  if (o.status === 'denied' && o.how !== 'refused') return D;
  return 'error';
}

describe('harness: reference ambient proxy (real processes, real mTLS, real HTTP/2 CONNECT)', function () {
  let dir: string;
  let pki: MeshPki;
  let ctx: ProbeContext;
  let files: { ca: string; appCert: string; appKey: string };
  const children: Child[] = [];
  let seq = 0;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-ambient-test-'));
    pki = createMeshPki({ trustDomain: 'cluster.local' });
    ctx = createProbeContext(pki.probeMaterial());
    const app = pki.appIdentity();
    const write = (name: string, text: string) => {
      const f = join(dir, name);
      writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    files = { ca: write('ca.pem', pki.meshCaPem), appCert: write('app-cert.pem', app.certPem), appKey: write('app-key.pem', app.keyPem) };
  });

  after(async function () {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  });

  const spiffe = (w: Workload, sa = w.name) => `spiffe://cluster.local/ns/${w.namespace}/sa/${sa}`;

  function configFor(
    w: Workload,
    appPorts: Record<string, number>,
    policies: PeerAuthenticationManifest[],
    opts: { serviceAccount?: string; mode?: 'ambient' | 'sidecar' } = {},
  ): WorkloadConfig {
    const sa = opts.serviceAccount ?? w.name;
    const id = pki.issueWorkload({ namespace: w.namespace, serviceAccount: sa, address: w.address });
    const tag = `${w.namespace}-${w.name}-${sa}-${seq++}`;
    const certFile = join(dir, `${tag}-cert.pem`);
    const keyFile = join(dir, `${tag}-key.pem`);
    writeFileSync(certFile, id.certPem);
    writeFileSync(keyFile, id.keyPem, { mode: 0o600 });
    return {
      apiVersion: 'meshconform.dev/v1alpha1',
      workload: { name: w.name, namespace: w.namespace, labels: { app: w.name }, serviceAccount: sa, address: w.address, ports: w.ports.map((p) => ({ ...p })) },
      app: { address: '127.0.0.1', ports: Object.fromEntries(w.ports.map((p) => [String(p.port), appPorts[`${w.namespace}/${w.name}|${p.port}`] ?? 0])) },
      mesh: { mode: opts.mode ?? 'ambient', rootNamespace: 'istio-system', trustDomain: 'cluster.local' },
      tls: { certFile, keyFile, caFile: files.ca },
      policies,
    };
  }

  async function startEcho(workloads: readonly Workload[]): Promise<Record<string, number>> {
    const file = join(dir, `echo-${seq++}.json`);
    writeJsonAtomic(file, {
      listeners: workloads.flatMap((w) => w.ports.map((p) => ({ workload: `${w.namespace}/${w.name}`, port: p.port, address: '127.0.0.1', appPort: 0 }))),
      tls: { certFile: files.appCert, keyFile: files.appKey },
    });
    const echo = startChild(ECHO_APP, { MESHCONFORM_ECHO_CONFIG: file });
    children.push(echo);
    return (JSON.parse(await echo.waitForLine((l) => l.startsWith('{'))) as { ports: Record<string, number> }).ports;
  }

  async function startProxy(configFiles: string[]): Promise<Child> {
    const env: Record<string, string> = configFiles.length === 1 ? { MESHCONFORM_WORKLOAD_CONFIG: configFiles[0]! } : { MESHCONFORM_WORKLOAD_CONFIGS: configFiles.join(':') };
    const proxy = startChild(AMBIENT_PROXY, env);
    children.push(proxy);
    await proxy.waitForLine((l) => l === 'ready');
    return proxy;
  }

  /** Echo app + one proxy for `workloads`; returns the config file of each workload. */
  async function bringUp(workloads: readonly Workload[], policies: PeerAuthenticationManifest[]): Promise<{ proxy: Child; configs: string[]; appPorts: Record<string, number> }> {
    const appPorts = await startEcho(workloads);
    const configs = workloads.map((w) => {
      const f = join(dir, `${w.namespace}-${w.name}-${seq++}.json`);
      writeJsonAtomic(f, configFor(w, appPorts, policies));
      return f;
    });
    return { proxy: await startProxy(configs), configs, appPorts };
  }

  function job(client: ClientKind, w: Workload, port: number, protocol: PortProtocol): ProbeJob {
    return {
      key: `ambient-test|ambient|${w.namespace}/${w.name}|${port}|${client}|${seq++}`,
      scenario: 'ambient-test',
      meshMode: 'ambient',
      workload: `${w.namespace}/${w.name}`,
      port,
      protocol,
      client,
      address: w.address,
      targetPort: client === 'hbone-unserved-port' ? hboneUnservedPort(w.ports.map((p) => p.port)) : port,
      expectedServerIdentity: spiffe(w),
    };
  }
  const probe = (client: ClientKind, w: Workload, port: number, protocol: PortProtocol = 'tcp') => runProbe(job(client, w, port, protocol), ctx, { timeoutMs: TIMEOUT_MS });

  describe('outcome table: every client kind × STRICT / PERMISSIVE / DISABLE, tcp and http ports', function () {
    const finance: Workload = { namespace: 'foo', name: 'finance', address: randomLoopback(), ports: PORTS.map(({ port, protocol }) => ({ port, protocol })) };

    before(async function () {
      await bringUp([finance], POLICIES);
    });

    for (const { port, protocol, configured } of PORTS) {
      for (const client of CLIENT_KINDS) {
        const want = TABLE[client][configured === 'STRICT' ? 0 : 1];
        it(`${configured} ${protocol} port ${port}: ${client} → ${want}`, async function () {
          const o = await probe(client, finance, port, protocol);
          expect(outcomeOf(o), JSON.stringify(o)).to.equal(want);
          if (o.status === 'allowed') {
            expect(o.echo).to.include({ workload: 'foo/finance', port });
            if (want === P) {
              expect(o.echo.received).to.equal('tls');
              expect(o.tls?.serverIssuer).to.equal('app');
            } else if (client.startsWith('hbone')) {
              // terminated by the node proxy: TLS 1.3, h2, the destination workload's identity (R6.7)
              expect(o.path).to.equal('mtls');
              expect(o.echo.received).to.equal('plaintext');
              expect(o.tls).to.include({ version: 'TLSv1.3', alpn: 'h2', serverIdentity: spiffe(finance), serverIssuer: 'mesh', serverIdentityOk: true });
            } else {
              expect(o.path).to.equal('plaintext');
              expect(o.echo.received).to.equal('plaintext');
            }
          }
          if (o.status === 'denied') {
            if (client === 'hbone-unserved-port') expect(o).to.include({ how: 'http-status', httpStatus: 503 });
            // TLS 1.3: the refusal comes after the client's handshake finished, while it already writes its HTTP/2
            // preface, so the client reads the alert or runs into the closed connection first.
            else if (client === 'hbone-no-client-cert') {
              expect(o.how, JSON.stringify(o)).to.be.oneOf(['tls-alert', 'reset', 'closed']);
              if (o.how === 'tls-alert') expect(o.alert?.name).to.equal('certificate_required');
            } else if (client.startsWith('hbone')) expect(o.how, JSON.stringify(o)).to.be.oneOf(['tls-alert', 'reset', 'closed']);
            else if (!client.startsWith('hbone')) expect(o.how, 'STRICT resets the captured-plaintext path without a byte').to.equal('reset');
          }
        });
      }
    }
  });

  describe('HBONE protocol rules (R6.6, R6.7)', function () {
    const a: Workload = { namespace: 'foo', name: 'finance', address: randomLoopback(), ports: [{ port: 9001, protocol: 'tcp' }] };
    const b: Workload = { namespace: 'bar', name: 'web', address: randomLoopback(), ports: [{ port: 9002, protocol: 'http' }] };

    before(async function () {
      // Two workloads served by one process (MESHCONFORM_WORKLOAD_CONFIGS), as with --workloads-per-process.
      await bringUp([a, b], [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })]);
    });

    /** Raw HTTP/2 request over mTLS to address:15008, for what the probes never send. */
    async function rawHbone(address: string, headers: http2.OutgoingHttpHeaders): Promise<number | string> {
      const session = http2.connect(`https://${address}:15008`, {
        cert: pki.clients.mesh.certPem,
        key: pki.clients.mesh.keyPem,
        rejectUnauthorized: false,
        ALPNProtocols: ['h2'],
      });
      try {
        return await new Promise<number | string>((resolve) => {
          session.on('error', (err) => resolve(`session error ${(err as NodeJS.ErrnoException).code}`));
          const stream = session.request(headers, { endStream: headers[':method'] !== 'CONNECT' });
          stream.on('response', (h) => resolve(Number(h[':status'])));
          stream.on('error', (err) => resolve(`stream error ${(err as NodeJS.ErrnoException).code}`));
          stream.on('close', () => resolve('closed'));
        });
      } finally {
        session.destroy();
      }
    }

    it('each workload of a multi-workload process presents its own identity on its own :15008', async function () {
      for (const [w, protocol] of [
        [a, 'tcp'],
        [b, 'http'],
      ] as const) {
        const o = await probe('hbone', w, w.ports[0]!.port, protocol);
        expect(o.status, JSON.stringify(o)).to.equal('allowed');
        expect(o.tls).to.include({ serverIdentity: spiffe(w), serverIdentityOk: true });
      }
    });

    it('only CONNECT is accepted: GET gets 400', async function () {
      expect(await rawHbone(a.address, { ':method': 'GET', ':path': '/' })).to.equal(400);
    });

    it('a CONNECT naming another address, or not address:port, gets 400; an undeclared port 503', async function () {
      expect(await rawHbone(a.address, { ':method': 'CONNECT', ':authority': `${b.address}:9002` })).to.equal(400);
      expect(await rawHbone(a.address, { ':method': 'CONNECT', ':authority': 'finance.foo:9001' })).to.equal(400);
      expect(await rawHbone(a.address, { ':method': 'CONNECT', ':authority': `${a.address}:9002` })).to.equal(503);
      expect(await rawHbone(a.address, { ':method': 'CONNECT', ':authority': `${a.address}:9001` })).to.equal(200);
    });

    it('a client that does not offer h2 never reaches HTTP/2', async function () {
      const attempt = (alpn: string[] | undefined) =>
        new Promise<string>((resolve) => {
          const s = tls.connect({
            host: a.address,
            port: 15008,
            cert: pki.clients.mesh.certPem,
            key: pki.clients.mesh.keyPem,
            rejectUnauthorized: false,
            ...(alpn ? { ALPNProtocols: alpn } : {}),
          });
          s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
          s.on('data', (d: Buffer) => resolve(`data ${d.toString('latin1').slice(0, 40)}`));
          s.on('error', (err) => resolve(String((err as NodeJS.ErrnoException).code)));
          s.on('close', () => resolve('closed'));
        });
      expect(await attempt(['http/1.1'])).to.equal('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
      expect(await attempt(undefined)).to.be.oneOf(['closed', 'ECONNRESET', 'EPIPE']);
    });
  });

  describe('SIGHUP reload, certificate rotation, SIGTERM', function () {
    const w: Workload = { namespace: 'foo', name: 'finance', address: randomLoopback(), ports: [{ port: 9100, protocol: 'tcp' }] };

    it('applies each new policy set and certificate to new connections, keeps the old one on a bad file', async function () {
      // A root `selector: {}` policy is ignored in ambient mode (R2.5): the port starts PERMISSIVE.
      const { proxy, configs, appPorts } = await bringUp([w], [policy('istio-system', 'mesh', { selector: {}, mtls: { mode: 'STRICT' } })]);
      const file = configs[0]!;
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(A);

      const reload = async (content: WorkloadConfig | string, line: 'reloaded' | 'reload-failed') => {
        const from = proxy.lines.length;
        if (typeof content === 'string') {
          writeFileSync(`${file}.tmp`, content);
          renameSync(`${file}.tmp`, file);
        } else {
          writeJsonAtomic(file, content);
        }
        process.kill(proxy.pid, 'SIGHUP');
        expect(await proxy.waitForLine((l) => l === 'reloaded' || l === 'reload-failed', from)).to.equal(line);
      };

      await reload(configFor(w, appPorts, [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })]), 'reloaded');
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(D);
      expect(outcomeOf(await probe('hbone', w, 9100))).to.equal(A);

      // Namespace DISABLE under mesh STRICT: PERMISSIVE in ambient (R6.5).
      await reload(configFor(w, appPorts, [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }), policy('foo', 'ns', { mtls: { mode: 'DISABLE' } })]), 'reloaded');
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(A);

      // A rotated certificate (another service account) is presented by new HBONE handshakes.
      await reload(configFor(w, appPorts, [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })], { serviceAccount: 'rotated' }), 'reloaded');
      const rotated = await probe('hbone', w, 9100);
      expect(rotated.tls?.serverIdentity).to.equal(spiffe(w, 'rotated'));
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(D);

      // Unusable TLS files (a truncated key): the previous certificate stays, the new policies apply (fail-static).
      const broken = configFor(w, appPorts, [policy('istio-system', 'mesh', { mtls: { mode: 'PERMISSIVE' } })]);
      writeFileSync(broken.tls.keyFile, '-----BEGIN PRIVATE KEY-----\nMIIE\n');
      await reload(broken, 'reload-failed');
      await stderrMatches(proxy, /reload: foo\/finance keeps its previous TLS material \(certificate, key and trust bundle\): .*-key\.pem: not a usable private key/);
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(A);
      expect((await probe('hbone', w, 9100)).tls?.serverIdentity).to.equal(spiffe(w, 'rotated'));
      await reload(configFor(w, appPorts, [policy('istio-system', 'mesh', { mtls: { mode: 'STRICT' } })], { serviceAccount: 'rotated' }), 'reloaded');

      // Not JSON: refused, the previous configuration stays.
      await reload('{ not json', 'reload-failed');
      await stderrMatches(proxy, /reload failed, keeping the previous configuration: workload config .* is not valid JSON/);
      expect(outcomeOf(await probe('plaintext-tcp', w, 9100))).to.equal(D);

      const exit = await stopChild(proxy);
      expect(exit).to.deep.equal({ code: 0, signal: null });
    });
  });

  describe('refusals at start (exit 2, one line, no stack trace)', function () {
    const w: Workload = { namespace: 'foo', name: 'finance', address: randomLoopback(), ports: [{ port: 9200, protocol: 'tcp' }] };

    it('refuses a sidecar-mode config', async function () {
      const file = join(dir, `sidecar-${seq++}.json`);
      writeJsonAtomic(file, configFor(w, { 'foo/finance|9200': 40000 }, [], { mode: 'sidecar' }));
      const child = startChild(AMBIENT_PROXY, { MESHCONFORM_WORKLOAD_CONFIG: file });
      children.push(child);
      expect(await child.exited).to.deep.equal({ code: 2, signal: null });
      await stderrMatches(child, /^reference-ambient: workload config .*: mesh\.mode is "sidecar"; the reference ambient proxy implements ambient mode only/);
      expect(child.stderr()).to.not.match(/\n\s+at /);
    });

    it('refuses to start without a config', async function () {
      const child = startChild(AMBIENT_PROXY, {});
      children.push(child);
      expect(await child.exited).to.deep.equal({ code: 2, signal: null });
      await stderrMatches(child, /set exactly one of MESHCONFORM_WORKLOAD_CONFIG/);
    });
  });
});
