import { expect } from 'chai';
import { ConfigHistory, TimedLog } from '../../../src/backend/common/timed-log.js';

describe('data-plane log and config history (host evidence)', () => {
  it('splits chunks into timestamped lines per stream, keeps a partial line until its newline, and reads a window', async () => {
    const log = new TimedLog();
    const t0 = Date.now();
    log.push('stdout', 'ready\npartial');
    log.push('stderr', 'decision a\r\n');
    await new Promise((r) => setTimeout(r, 20));
    const t1 = Date.now();
    log.push('stdout', ' line\n');
    log.note('SIGHUP');
    expect(log.between(t0, t1 - 1).map((l) => [l.stream, l.text])).to.deep.equal([
      ['stdout', 'ready'],
      ['stderr', 'decision a'],
    ]);
    expect(log.between(t1, Date.now()).map((l) => l.text)).to.deep.equal(['partial line', '[meshconform] SIGHUP']);
    expect(log.text()).to.match(/^\d{4}-\d\d-\d\dT[^ ]+Z stdout ready$/m);
    expect(log.truncated).to.equal(false);
  });

  it('stays within its bound, oldest lines first out, and cuts a runaway line', () => {
    const log = new TimedLog(10_000);
    for (let i = 0; i < 1000; i++) log.push('stderr', `line ${i} ${'x'.repeat(50)}\n`);
    const lines = log.between(0, Date.now() + 1000);
    // The ring keeps the last 10 000 bytes of output: about 165 of these 60-byte lines.
    expect(lines.length).to.be.within(160, 170);
    expect(log.truncated).to.equal(true);
    expect(lines.at(-1)!.text.startsWith('line 999 ')).to.equal(true);
    expect(lines.some((l) => l.text.startsWith('line 0 '))).to.equal(false);
    log.push('stdout', `${'y'.repeat(100_000)}`);
    const after = log.between(0, Date.now() + 1000);
    expect(after.at(-1)!.text.length).to.be.at.most(8 * 1024 + 1);
    expect(after.map((l) => l.text).join('').length).to.be.at.most(10_000 + 2);
  });

  it('a flood of short lines costs linear time (old lines dropped in batches)', () => {
    const log = new TimedLog(64 * 1024);
    const chunk = 'y\n'.repeat(10_000);
    for (let i = 0; i < 100; i++) log.push('stdout', chunk);
    const lines = log.between(0, Date.now() + 1000);
    expect(lines.length).to.be.above(1000);
    // The raw output kept is bounded (64 KiB plus the chunk that crossed it): 2 bytes a line.
    expect(lines.length).to.be.at.most((64 * 1024 + 20_000) / 2);
    expect(log.truncated).to.equal(true);
  });

  it('the config in force at a moment is the last one written before it', async () => {
    const h = new ConfigHistory();
    h.record('first');
    const between = Date.now();
    await new Promise((r) => setTimeout(r, 15));
    h.record('second');
    expect(h.at(between)).to.equal('first');
    expect(h.at(Date.now())).to.equal('second');
    expect(h.at(0)).to.equal('first');
    expect(new ConfigHistory().at(Date.now())).to.equal(undefined);
  });
});
