import { expect } from 'chai';
import { jsonChunks } from '../../src/report/index.js';
import { bigRun, hostileRun } from './html-fixtures.js';
import { sampleRun } from './sample-run.js';

const joined = (value: unknown, gap: '' | '  ') => [...jsonChunks(value, gap)].join('');

/** Every value JSON.stringify treats in its own way, in objects and in arrays, shallow and deep. */
function oddities(): Record<string, unknown> {
  const odd = {
    undefined: undefined,
    fn: () => 1,
    symbol: Symbol('s'),
    numbers: [0, -0, 1.5e300, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE],
    // biome-ignore lint/suspicious/noSparseArray: a hole is one of the odd values
    arrayHoles: [undefined, () => 1, Symbol('t'), null, , 'x'],
    date: new Date(0),
    keyed: { toJSON: (key: string) => `toJSON(${key})` },
    toObject: { toJSON: () => ({ nested: [1, { toJSON: (key: string) => `inner ${key}` }] }) },
    boxed: [new Number(3), new String('s'), new Boolean(false)],
    empty: [[], {}, [[]], [{}], { a: undefined }],
    text: 'é "quoted" \\ \n\t\u0000 \u2028 \u2029 </script> \ud800 \udc00 😀',
    '': 'empty key',
    '\u2028 key "quoted"': 1,
  };
  return { ...odd, deep: { a: { b: { c: [odd, odd] } } }, many: Array.from({ length: 700 }, (_, i) => ({ i, odd: i % 100 === 0 ? odd : null })) };
}

describe('report: jsonChunks', () => {
  for (const gap of ['  ', ''] as const) {
    describe(gap === '' ? 'compact' : 'indented', () => {
      it('joined, is exactly JSON.stringify of a RunResult', () => {
        for (const run of [sampleRun(), hostileRun(), bigRun(3, 40)]) expect(joined(run, gap)).to.equal(JSON.stringify(run, null, gap));
      });

      it('joined, is exactly JSON.stringify of odd values: undefined, functions, symbols, toJSON, boxed, empty, unicode', () => {
        const v = oddities();
        expect(joined(v, gap)).to.equal(JSON.stringify(v, null, gap));
        for (const top of [null, 1, 'x', true, [], {}, [undefined], new Date(5), { toJSON: (key: string) => [key] }]) {
          expect(joined(top, gap)).to.equal(JSON.stringify(top, null, gap));
        }
      });

      it('yields nothing where JSON.stringify returns undefined', () => {
        for (const top of [undefined, () => 1, Symbol('x')]) expect([...jsonChunks(top, gap)]).to.deep.equal([]);
      });
    });
  }

  it('comes in pieces: no piece of a large run holds more than a few cells', () => {
    const run = bigRun(2, 200);
    const pieces = [...jsonChunks(run)];
    const cell = JSON.stringify(run.scenarios[0]!.cells[0], null, 2).length;
    expect(pieces.length).to.be.greaterThan(run.scenarios.reduce((n, s) => n + s.cells.length, 0));
    expect(Math.max(...pieces.map((p) => p.length))).to.be.below(10 * cell);
  });

  it('throws a TypeError on a cycle, as JSON.stringify does, small or large', () => {
    const small: Record<string, unknown> = { a: 1 };
    small['self'] = small;
    const large: Record<string, unknown> = { list: Array.from({ length: 1000 }, (_, i) => i) };
    (large['list'] as unknown[]).push(large);
    for (const v of [small, large]) expect(() => [...jsonChunks(v)]).to.throw(TypeError);
  });

  it('throws on a BigInt, as JSON.stringify does', () => {
    expect(() => [...jsonChunks({ n: 1n })]).to.throw(TypeError);
  });
});
