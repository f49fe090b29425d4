// Application-side receipts: what the echo app writes (a real process), how the harness reads and matches it.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Observation } from '../../src/model/index.js';
import { parseReceipts, readReceiptsFile } from '../../src/backend/app-receipts.js';
import { applyReceipts, type AttemptRef } from '../../src/probe/index.js';
import { ECHO_APP, startChild, stopChild, type Child } from '../harness/support/child.js';
import { writeJsonAtomic } from '../harness/support/fixture.js';
import { createTestPki } from '../harness/support/test-pki.js';

const obs = (): Observation => ({ status: 'denied', how: 'reset', detail: 'ECONNRESET', timings: { startedAt: 0, totalMs: 1 }, attempts: 1 });

describe('probe: receipts parsing and matching', () => {
  it('keeps well-formed receipts and skips damaged lines', () => {
    const text = [
      '{"id":"a","workload":"foo/finance","port":8080,"received":"plaintext"}',
      'not json',
      '{"id":"b","workload":"foo/finance","port":8080,"received":"tls"}',
      '{"id":"","workload":"foo/finance","port":8080,"received":"tls"}',
      '{"id":"c","workload":"finance","port":8080,"received":"tls"}',
      '{"id":"d","workload":"foo/finance","port":0,"received":"tls"}',
      '{"id":"e","workload":"foo/finance","port":8080,"received":"maybe"}',
      '[1,2]',
      '{"id":"f","workload":"foo/fin',
    ].join('\n');
    expect(parseReceipts(text)).to.deep.equal([
      { id: 'a', workload: 'foo/finance', port: 8080, received: 'plaintext' },
      { id: 'b', workload: 'foo/finance', port: 8080, received: 'tls' },
    ]);
  });

  it('marks the attempt named by the id, ignores unknown ids, and keeps the first receipt of an id', () => {
    const attempts = new Map<string, Observation[]>([
      ['cell-1', [obs(), obs()]],
      ['cell-2', [obs()]],
    ]);
    const ids = new Map<string, AttemptRef>([
      ['p1', { key: 'cell-1', index: 0 }],
      ['p2', { key: 'cell-1', index: 1 }],
      ['p3', { key: 'cell-2', index: 0 }],
    ]);
    const marked = applyReceipts(
      [
        { id: 'p2', workload: 'foo/finance', port: 8080, received: 'plaintext' },
        { id: 'p2', workload: 'foo/finance', port: 8080, received: 'tls' },
        { id: 'companion', workload: 'foo/finance', port: 8080, received: 'plaintext' },
      ],
      ids,
      attempts,
    );
    expect(marked).to.equal(1);
    expect(attempts.get('cell-1')![0]!.receipt).to.equal(undefined);
    expect(attempts.get('cell-1')![1]!.receipt).to.deep.equal({ workload: 'foo/finance', port: 8080, received: 'plaintext' });
    expect(attempts.get('cell-2')![0]!.receipt).to.equal(undefined);
    // Collected again after the next round: already marked attempts are left as they are.
    expect(applyReceipts([{ id: 'p2', workload: 'foo/finance', port: 8080, received: 'plaintext' }], ids, attempts)).to.equal(0);
  });
});

describe('probe: receipts written by the echo application (real process)', function () {
  let dir: string;
  let echo: Child | undefined;
  let ports: Record<string, number>;
  let receiptsFile: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'meshconform-receipts-test-'));
    const pki = createTestPki(dir);
    receiptsFile = join(dir, 'receipts.jsonl');
    const config = join(dir, 'echo.json');
    writeJsonAtomic(config, {
      listeners: [
        { workload: 'foo/finance', port: 8080, address: '127.0.0.1', appPort: 0 },
        { workload: 'foo/finance', port: 9090, address: '127.0.0.1', appPort: 0 },
      ],
      tls: { certFile: pki.app.certFile, keyFile: pki.app.keyFile },
      receiptsFile,
    });
    echo = startChild(ECHO_APP, { MESHCONFORM_ECHO_CONFIG: config });
    ports = (JSON.parse(await echo.waitForLine((l) => l.startsWith('{'))) as { ports: Record<string, number> }).ports;
  });

  after(async function () {
    await stopChild(echo);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends bytes and waits until the app closes (its answer is not needed: the receipt is on disk before it). */
  const send = (port: number, bytes: string, secure = false) =>
    new Promise<void>((resolve, reject) => {
      const s = secure ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => s.write(bytes)) : net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
      s.on('data', () => s.destroy());
      s.on('error', reject);
      s.on('close', () => resolve());
    });

  it('records the probe line id, the HTTP header id and TLS it terminated itself; nothing for bytes without an id', async () => {
    expect(await readReceiptsFile(receiptsFile), 'no file yet: no receipts').to.deep.equal([]);
    await send(ports['foo/finance|8080']!, 'MESHCONFORM-PROBE mc-1\n');
    await send(ports['foo/finance|9090']!, 'GET / HTTP/1.1\r\nhost: a\r\nx-meshconform-probe: mc-2\r\n\r\n');
    await send(ports['foo/finance|8080']!, 'MESHCONFORM-PROBE mc-3\n', true);
    await send(ports['foo/finance|8080']!, 'hello\n');
    expect(await readReceiptsFile(receiptsFile)).to.deep.equal([
      { id: 'mc-1', workload: 'foo/finance', port: 8080, received: 'plaintext' },
      { id: 'mc-2', workload: 'foo/finance', port: 9090, received: 'plaintext' },
      { id: 'mc-3', workload: 'foo/finance', port: 8080, received: 'tls' },
    ]);
  });

  it('an unreadable receipts file is an error for the caller, a missing one is no receipts', async () => {
    expect(await readReceiptsFile(join(dir, 'absent.jsonl'))).to.deep.equal([]);
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    let failed = false;
    await readReceiptsFile(folder).catch(() => (failed = true));
    expect(failed).to.equal(true);
  });
});
