import { expect } from 'chai';
import { ByteRing } from '../../src/util/byte-ring.js';
import { escapeControls } from '../../src/util/terminal-text.js';

describe('bounded, terminal-safe text of data planes', () => {
  it('ByteRing keeps only the last cap bytes, across many chunks and one huge chunk', () => {
    const ring = new ByteRing(1024);
    for (let i = 0; i < 1000; i++) ring.push(Buffer.alloc(100, i % 10 === 9 ? 'b' : 'a'));
    expect(ring.bytes).to.equal(1024);
    expect(ring.dropped).to.equal(100_000 - 1024);
    expect(ring.text().endsWith('b'.repeat(100))).to.equal(true);
    ring.push(Buffer.concat([Buffer.alloc(5000, 'x'), Buffer.from('END')]));
    expect(ring.bytes).to.equal(1024);
    expect(ring.text().endsWith('xEND')).to.equal(true);
  });

  it('escapeControls shows escape sequences, OSC titles, CR and NUL as \\uXXXX; keeps newlines only when asked', () => {
    const hostile = '\x1b]0;pwned\x07\x1b[2J\r0 failed\u009b\0\nnext\tline';
    expect(escapeControls(hostile)).to.equal('\\u001b]0;pwned\\u0007\\u001b[2J\\u000d0 failed\\u009b\\u0000\\u000anext\tline');
    expect(escapeControls(hostile, { keepNewlines: true })).to.match(/\\u0000\nnext\tline$/);
  });
});
