// The reference sidecar under chaos, as real processes with real TLS: TLS material reloaded on SIGHUP (rotation,
// staged CA rotation, fail-static on bad files), a clock offset for certificate validity, and the planted chaos
// defects next to the correct proxy. No timing assertions: windows are either minutes long or long over.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { DIRECT_CLIENT_KINDS, type PeerAuthenticationManifest, type PortProtocol } from '../../src/model/index.js';
import { SIDECAR, startChild, stopChild, type Child } from './support/child.js';
import { policy, randomLoopback, startEcho, startSidecar, workloadConfig, writeJsonAtomic, type WorkloadSpec } from './support/fixture.js';
import { parseEcho, payloadFor, probe, type ProbeTarget } from './support/probe-client.js';
import { readPreamble } from '../../harness/common/peer-exchange.mjs';
import { issueLeaf, newIntermediate, newRoot, replaceFile, spiffe, type Leaf, type Root } from './support/rotation-pki.js';
import { createTestPki, type TestPki } from './support/test-pki.js';

const HOUR = 3600_000;
const STRICT_NS = [policy('foo', 'ns', { mtls: { mode: 'STRICT' } })];
/** Long enough that no probe of a test can fall outside it. */
const LONG_MS = 600_000;

interface Hit {
  readonly outcome: 'allow' | 'passthrough' | 'deny' | 'timeout';
  /** Serial of the certificate the server presented, when the handshake completed. */
  readonly serial?: string;
  readonly detail: string;
}

/** One Istio mTLS connection (ALPN istio) with `client` as the client certificate. */
function mtls(target: ProbeTarget, client: { certPem: string; keyPem: string }): Promise<Hit> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let serial: string | undefined;
    let settled = false;
    const c = tls.connect({
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      cert: client.certPem,
      key: client.keyPem,
      ALPNProtocols: ['istio-peer-exchange', 'istio'],
    });
    const finish = (detail: string, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.destroy();
      // On istio-peer-exchange the sidecar's metadata-exchange preamble comes before the app's reply.
      const bytes = Buffer.concat(chunks);
      const mx = readPreamble(bytes);
      const echo = parseEcho((mx.state === 'ok' ? bytes.subarray(mx.consumed) : bytes).toString('latin1'));
      const outcome = timedOut ? 'timeout' : !echo ? 'deny' : echo.received === 'tls' ? 'passthrough' : 'allow';
      resolve({ outcome, detail, ...(serial ? { serial } : {}) });
    };
    const timer = setTimeout(() => finish('deadline', true), 5000);
    c.on('secureConnect', () => {
      serial = c.getPeerX509Certificate()?.serialNumber;
      c.write(payloadFor(target.protocol));
    });
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    c.on('close', () => finish('closed'));
  });
}

describe('harness: reference sidecar under chaos (real processes, real TLS)', function () {
  let dir: string;
  let pki: TestPki;
  let rootA: Root;
  const children: Child[] = [];

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-sidecar-chaos-'));
    pki = createTestPki(dir);
    rootA = { certPem: pki.meshCa.certPem, keyPem: pki.meshCa.keyPem };
  });

  after(async function () {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  });

  interface Up {
    readonly w: WorkloadSpec;
    readonly sidecar: Child;
    readonly configFile: string;
    readonly files: { certFile: string; keyFile: string; caFile: string };
    readonly appPorts: Record<string, number>;
    readonly serial: string;
    readonly env: Record<string, string>;
    readonly target: (port?: number, protocol?: PortProtocol) => ProbeTarget;
  }

  let seq = 0;
  /** Echo app + sidecar for one workload whose TLS files this test owns: issued by `root`, which is the bundle. */
  async function bringUp(
    ports: readonly { port: number; protocol: PortProtocol }[],
    policies: PeerAuthenticationManifest[],
    env: Record<string, string> = {},
    root: Root = rootA,
  ): Promise<Up> {
    const name = `w${++seq}`;
    const w: WorkloadSpec = { namespace: 'foo', name, labels: { app: name }, address: randomLoopback(), ports };
    const echo = await startEcho(dir, [w], pki);
    children.push(echo.child);
    const leaf = issueLeaf({ issuer: root, uri: spiffe('foo', name), ips: [w.address] });
    const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`), caFile: join(dir, `${name}-ca.pem`) };
    replaceFile(files.certFile, leaf.certPem);
    replaceFile(files.keyFile, leaf.keyPem);
    replaceFile(files.caFile, root.certPem);
    const configFile = join(dir, `${name}.json`);
    writeJsonAtomic(configFile, { ...workloadConfig(w, echo.ports, pki, policies), tls: files });
    const sidecar = await startSidecar([configFile], env);
    children.push(sidecar);
    const target = (port = ports[0]!.port, protocol = ports.find((p) => p.port === port)?.protocol ?? 'tcp'): ProbeTarget => ({ host: w.address, port, protocol });
    return { w, sidecar, configFile, files, appPorts: echo.ports, serial: leaf.serial, env, target };
  }

  /** SIGHUP and the line the sidecar answers with. */
  async function hup(sidecar: Child): Promise<string> {
    const from = sidecar.lines.length;
    process.kill(sidecar.pid, 'SIGHUP');
    return sidecar.waitForLine((l) => l.startsWith('reload'), from);
  }

  function install(up: Up, leaf: Leaf, caPem?: string): void {
    replaceFile(up.files.certFile, leaf.certPem);
    replaceFile(up.files.keyFile, leaf.keyPem);
    if (caPem !== undefined) replaceFile(up.files.caFile, caPem);
  }

  function setPolicies(up: Up, policies: PeerAuthenticationManifest[]): void {
    writeJsonAtomic(up.configFile, { ...workloadConfig(up.w, up.appPorts, pki, policies), tls: up.files });
  }

  async function restart(up: Up): Promise<Child> {
    await stopChild(up.sidecar);
    const again = await startSidecar([up.configFile], up.env);
    children.push(again);
    return again;
  }

  const TCP = [{ port: 8001, protocol: 'tcp' as const }];

  describe('TLS material reloaded on SIGHUP', function () {
    it('presents a rotated workload certificate to new connections at once', async function () {
      const up = await bringUp(TCP, STRICT_NS);
      const before = await mtls(up.target(), pki.client);
      expect(before).to.include({ outcome: 'allow', serial: up.serial });
      const rotated = issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] });
      install(up, rotated);
      expect(await hup(up.sidecar)).to.equal('reloaded');
      const after = await mtls(up.target(), pki.client);
      expect(after).to.include({ outcome: 'allow', serial: rotated.serial });
      expect(rotated.serial).to.not.equal(up.serial);
    });

    for (const offset of ['0', '1']) {
      const how = offset === '0' ? 'verified in the handshake' : 'verified with the proxy clock (clock offset 1 ms)';
      it(`staged CA rotation: a bundle trusts every root, a removed root is no longer trusted (${how})`, async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_CLOCK_OFFSET_MS: offset });
        const rootB = newRoot('meshconform test mesh root B');
        const clientA = { certPem: pki.client.certPem, keyPem: pki.client.keyPem };
        const clientB = issueLeaf({ issuer: rootB, uri: spiffe('foo', 'sleep') });
        // stage 0: only root A
        expect((await mtls(up.target(), clientA)).outcome).to.equal('allow');
        expect((await mtls(up.target(), clientB)).outcome).to.equal('deny');
        // stage 1: root B added to the bundle
        replaceFile(up.files.caFile, `${rootA.certPem}${rootB.certPem}`);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await mtls(up.target(), clientA)).outcome).to.equal('allow');
        expect((await mtls(up.target(), clientB)).outcome).to.equal('allow');
        // stage 2: the workload certificate issued from root B
        const fromB = issueLeaf({ issuer: rootB, uri: spiffe('foo', up.w.name), ips: [up.w.address] });
        install(up, fromB);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect(await mtls(up.target(), clientB)).to.include({ outcome: 'allow', serial: fromB.serial });
        expect((await mtls(up.target(), clientA)).outcome).to.equal('allow');
        // stage 3: root A removed
        replaceFile(up.files.caFile, rootB.certPem);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await mtls(up.target(), clientA)).outcome).to.equal('deny');
        expect(await mtls(up.target(), clientB)).to.include({ outcome: 'allow', serial: fromB.serial });
      });
    }

    const badFiles: [string, (up: Up) => void, RegExp][] = [
      ['a truncated certificate', (up) => replaceFile(up.files.certFile, readFileSync(up.files.certFile, 'utf8').slice(0, 400)), /\.crt: holds a PEM block without its END line/],
      [
        'a key of another certificate',
        (up) => replaceFile(up.files.keyFile, issueLeaf({ issuer: rootA, uri: spiffe('foo', 'x') }).keyPem),
        /\.key: the key does not belong to the certificate/,
      ],
      ['an empty trust bundle', (up) => replaceFile(up.files.caFile, ''), /-ca\.pem: holds no PEM certificate/],
      [
        'a trust bundle with a corrupt root',
        (up) => replaceFile(up.files.caFile, `${rootA.certPem}${rootA.certPem.replace(/^(.{80})./s, '$1!')}`),
        /-ca\.pem: certificate 2 of the bundle cannot be parsed/,
      ],
      ['a missing certificate file', (up) => unlinkSync(up.files.certFile), /cannot read TLS certificate file .*\.crt .*no such file/],
    ];
    for (const [what, breakIt, reason] of badFiles) {
      it(`keeps the previous material for ${what} (fail-static), says so, and takes good files again`, async function () {
        const up = await bringUp(TCP, STRICT_NS);
        breakIt(up);
        expect(await hup(up.sidecar)).to.equal('reload-failed');
        const stderr = await up.sidecar.waitForStderr(/keeps its previous TLS material.*\n/);
        const line = stderr.split('\n').find((l) => l.includes('keeps its previous TLS material'));
        expect(line, stderr).to.match(new RegExp(`^reference-sidecar: reload: foo/${up.w.name} keeps its previous TLS material`));
        expect(line).to.match(reason);
        expect(await mtls(up.target(), pki.client)).to.include({ outcome: 'allow', serial: up.serial });
        const good = issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] });
        install(up, good, rootA.certPem);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect(await mtls(up.target(), pki.client)).to.include({ outcome: 'allow', serial: good.serial });
      });
    }

    it('still applies the new policies when the TLS files of the same reload are unusable', async function () {
      const up = await bringUp(TCP, []);
      expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('allow');
      setPolicies(up, STRICT_NS);
      replaceFile(up.files.caFile, 'not a certificate\n');
      expect(await hup(up.sidecar)).to.equal('reload-failed');
      expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('deny');
      expect(await mtls(up.target(), pki.client)).to.include({ outcome: 'allow', serial: up.serial });
    });
  });

  describe('MESHCONFORM_CLOCK_OFFSET_MS', function () {
    // A root valid from 30 days ago, so that a clock a day or two behind still trusts it.
    let root: Root;
    let valid: Leaf;
    let expired: Leaf;
    before(function () {
      root = newRoot('meshconform test long-lived root');
      valid = issueLeaf({ issuer: root, uri: spiffe('foo', 'sleep'), notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + 24 * HOUR) });
      expired = issueLeaf({ issuer: root, uri: spiffe('foo', 'sleep'), notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) });
    });
    const cases: [string, string, () => Leaf | TestPki['client'], 'allow' | 'deny'][] = [
      ['no offset: a valid certificate', '0', () => valid, 'allow'],
      ['no offset: an expired certificate', '0', () => expired, 'deny'],
      ['a clock 48 h ahead: the valid certificate has expired', String(48 * HOUR), () => valid, 'deny'],
      ['a clock 2 h behind: the valid certificate is not yet valid', String(-2 * HOUR), () => valid, 'deny'],
      ['a clock 36 h behind: the expired certificate is valid again', String(-36 * HOUR), () => expired, 'allow'],
      ['a clock 36 h behind a root issued 1 h ago: the root is not yet valid', String(-36 * HOUR), () => pki.expiredClient, 'deny'],
    ];
    for (const [what, offset, client, want] of cases) {
      it(`${what} → ${want}`, async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_CLOCK_OFFSET_MS: offset }, what.includes('root issued') ? rootA : root);
        const got = await mtls(up.target(), client());
        expect(got.outcome, got.detail).to.equal(want);
        if (want === 'deny') expect(got.serial, 'the refusal comes after the handshake').to.equal(up.serial);
      });
    }

    for (const offset of ['0', '1']) {
      it(`a client that presents its intermediate CA is trusted (clock offset ${offset} ms)`, async function () {
        const intermediate = newIntermediate(root, 'meshconform test intermediate');
        const leaf = issueLeaf({ issuer: intermediate, uri: spiffe('foo', 'sleep') });
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_CLOCK_OFFSET_MS: offset }, root);
        expect((await mtls(up.target(), { certPem: `${leaf.certPem}${intermediate.certPem}`, keyPem: leaf.keyPem })).outcome).to.equal('allow');
        expect((await mtls(up.target(), leaf)).outcome, 'without the intermediate').to.equal('deny');
      });
    }

    it('verifying with the proxy clock gives the same outcome as OpenSSL for every client kind, mode and protocol', async function () {
      const ports = [
        { port: 8001, protocol: 'tcp' as const },
        { port: 8002, protocol: 'tcp' as const },
        { port: 8003, protocol: 'tcp' as const },
        { port: 8004, protocol: 'http' as const },
        { port: 8005, protocol: 'http' as const },
        { port: 8006, protocol: 'http' as const },
      ];
      const policies = (name: string) => [
        policy('foo', 'ns', { mtls: { mode: 'PERMISSIVE' } }),
        policy('foo', 'ports', {
          selector: { matchLabels: { app: name } },
          mtls: { mode: 'UNSET' },
          portLevelMtls: { '8001': { mode: 'STRICT' }, '8003': { mode: 'DISABLE' }, '8004': { mode: 'STRICT' }, '8006': { mode: 'DISABLE' } },
        }),
      ];
      const handshake = await bringUp(ports, policies(`w${seq + 1}`));
      const ownClock = await bringUp(ports, policies(`w${seq + 1}`), { MESHCONFORM_CLOCK_OFFSET_MS: '1' });
      for (const { port, protocol } of ports) {
        for (const kind of DIRECT_CLIENT_KINDS) {
          const a = await probe(kind, handshake.target(port, protocol), pki);
          const b = await probe(kind, ownClock.target(port, protocol), pki);
          expect(b.outcome, `${protocol} port ${port} ${kind}`).to.equal(a.outcome);
        }
      }
    });

    for (const bad of ['abc', '1.5', '1e3', '99999999999999999999', '12ms']) {
      it(`refuses ${JSON.stringify(bad)} at start: exit 2, one clear line`, async function () {
        const w: WorkloadSpec = { namespace: 'foo', name: 'badclock', labels: {}, address: randomLoopback(), ports: TCP };
        const f = join(dir, `badclock-${++seq}.json`);
        writeJsonAtomic(f, workloadConfig(w, { [`foo/${w.name}|8001`]: 1 }, pki, []));
        const child = startChild(SIDECAR, { MESHCONFORM_WORKLOAD_CONFIG: f, MESHCONFORM_CLOCK_OFFSET_MS: bad });
        children.push(child);
        expect((await child.exited).code).to.equal(2);
        expect(child.stderr()).to.equal(
          `reference-sidecar: MESHCONFORM_CLOCK_OFFSET_MS must be an integer number of milliseconds (negative for a clock behind), got ${JSON.stringify(bad)}\n`,
        );
      });
    }
  });

  describe('chaos defects', function () {
    describe('fail-open-on-restart', function () {
      it('a restarted proxy accepts plaintext on STRICT ports; its first start does not', async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: `fail-open-on-restart=${LONG_MS}` });
        expect((await probe('plaintext-tcp', up.target(), pki)).outcome, 'first start').to.equal('deny');
        await restart(up);
        expect((await probe('plaintext-tcp', up.target(), pki)).outcome, 'after the restart').to.equal('allow');
        expect((await mtls(up.target(), pki.client)).outcome).to.equal('allow');
      });

      it('the window closes: a restart with a 1 ms window refuses plaintext once it is over', async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: 'fail-open-on-restart=1' });
        await restart(up);
        await new Promise((r) => setTimeout(r, 100)); // well past the window
        expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('deny');
      });

      it('the correct proxy refuses plaintext after a restart and leaves no marker', async function () {
        const up = await bringUp(TCP, STRICT_NS);
        await restart(up);
        expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('deny');
        expect(existsSync(`${up.configFile}.meshconform-started`)).to.equal(false);
      });
    });

    describe('fail-open-window', function () {
      const PORTS = [
        { port: 8001, protocol: 'tcp' as const },
        { port: 8004, protocol: 'http' as const },
      ];

      it('opens when the first SIGHUP reload is done: STRICT ports accept plaintext (mTLS still works)', async function () {
        const up = await bringUp(PORTS, STRICT_NS, { MESHCONFORM_DEFECTS: `fail-open-window=${LONG_MS}` });
        expect((await probe('plaintext-tcp', up.target(8001), pki)).outcome, 'before the SIGHUP').to.equal('deny');
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await probe('plaintext-tcp', up.target(8001), pki)).outcome).to.equal('allow');
        expect((await probe('plaintext-http', up.target(8004), pki)).outcome).to.equal('allow');
        expect((await mtls(up.target(8001), pki.client)).outcome).to.equal('allow');
      });

      it('MESHCONFORM_FAIL_OPEN_AT places the window: open now, not yet open, already over', async function () {
        const now = Date.now();
        const open = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: `fail-open-window=${LONG_MS}`, MESHCONFORM_FAIL_OPEN_AT: String(now - 1000) });
        expect((await probe('plaintext-tcp', open.target(), pki)).outcome, 'open').to.equal('allow');
        const later = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: 'fail-open-window=1000', MESHCONFORM_FAIL_OPEN_AT: String(now + LONG_MS) });
        expect((await probe('plaintext-tcp', later.target(), pki)).outcome, 'not yet open').to.equal('deny');
        expect(await hup(later.sidecar)).to.equal('reloaded'); // a SIGHUP does not move a window placed by time
        expect((await probe('plaintext-tcp', later.target(), pki)).outcome, 'not yet open after a SIGHUP').to.equal('deny');
        const over = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: 'fail-open-window=1000', MESHCONFORM_FAIL_OPEN_AT: String(now - LONG_MS) });
        expect((await probe('plaintext-tcp', over.target(), pki)).outcome, 'over').to.equal('deny');
      });

      it('the correct proxy refuses plaintext after a SIGHUP', async function () {
        const up = await bringUp(TCP, STRICT_NS);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('deny');
      });
    });

    describe('stale-policy-after-reload', function () {
      for (const planted of [true, false]) {
        it(`${planted ? 'keeps enforcing the first policy set' : 'the correct proxy enforces the new policy set'} while the certificate reloads`, async function () {
          const up = await bringUp(TCP, [], planted ? { MESHCONFORM_DEFECTS: 'stale-policy-after-reload' } : {});
          expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal('allow');
          setPolicies(up, STRICT_NS);
          const rotated = issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] });
          install(up, rotated);
          expect(await hup(up.sidecar)).to.equal('reloaded');
          expect((await probe('plaintext-tcp', up.target(), pki)).outcome).to.equal(planted ? 'allow' : 'deny');
          expect(await mtls(up.target(), pki.client)).to.include({ outcome: 'allow', serial: rotated.serial });
        });
      }
    });

    describe('accept-expired-during-rotation', function () {
      it('accepts expired client certificates after a TLS rotation, not before and not after a policy-only reload', async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: 'accept-expired-during-rotation' });
        expect((await mtls(up.target(), pki.expiredClient)).outcome, 'at start').to.equal('deny');
        setPolicies(up, [...STRICT_NS, policy('foo', 'other', { selector: { matchLabels: { app: 'other' } }, mtls: { mode: 'DISABLE' } })]);
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await mtls(up.target(), pki.expiredClient)).outcome, 'after a policy-only reload').to.equal('deny');
        install(up, issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] }));
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await mtls(up.target(), pki.expiredClient)).outcome, 'after the rotation').to.equal('allow');
        expect((await mtls(up.target(), pki.foreignClient)).outcome, 'other bad certificates stay refused').to.equal('deny');
      });

      it('with a parameter the window closes again', async function () {
        const up = await bringUp(TCP, STRICT_NS, { MESHCONFORM_DEFECTS: 'accept-expired-during-rotation=1' });
        install(up, issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] }));
        expect(await hup(up.sidecar)).to.equal('reloaded');
        await new Promise((r) => setTimeout(r, 100)); // well past the window
        expect((await mtls(up.target(), pki.expiredClient)).outcome).to.equal('deny');
        expect((await mtls(up.target(), pki.client)).outcome).to.equal('allow');
      });

      it('the correct proxy refuses expired client certificates after a rotation', async function () {
        const up = await bringUp(TCP, STRICT_NS);
        install(up, issueLeaf({ issuer: rootA, uri: spiffe('foo', up.w.name), ips: [up.w.address] }));
        expect(await hup(up.sidecar)).to.equal('reloaded');
        expect((await mtls(up.target(), pki.expiredClient)).outcome).to.equal('deny');
      });
    });

    const badStarts: [string, Record<string, string>, RegExp][] = [
      ['a zero window', { MESHCONFORM_DEFECTS: 'fail-open-window=0' }, /'fail-open-window=0': the parameter is a duration in milliseconds, an integer from 1 to 86400000/],
      ['a parameter on a defect without one', { MESHCONFORM_DEFECTS: 'stale-policy-after-reload=5' }, /defect 'stale-policy-after-reload' takes no parameter/],
      [
        'a bad MESHCONFORM_FAIL_OPEN_AT',
        { MESHCONFORM_DEFECTS: 'fail-open-window', MESHCONFORM_FAIL_OPEN_AT: 'soon' },
        /MESHCONFORM_FAIL_OPEN_AT must be a time in epoch milliseconds/,
      ],
    ];
    for (const [what, env, message] of badStarts) {
      it(`refuses ${what} at start: exit 2, one clear line`, async function () {
        const w: WorkloadSpec = { namespace: 'foo', name: 'baddefect', labels: {}, address: randomLoopback(), ports: TCP };
        const f = join(dir, `baddefect-${++seq}.json`);
        writeJsonAtomic(f, workloadConfig(w, { [`foo/${w.name}|8001`]: 1 }, pki, []));
        const child = startChild(SIDECAR, { MESHCONFORM_WORKLOAD_CONFIG: f, ...env });
        children.push(child);
        expect((await child.exited).code).to.equal(2);
        const lines = child.stderr().trimEnd().split('\n');
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(message);
      });
    }
  });
});
