// Mocha's spec reporter plus a closing "N passed, N failed" line that CI can read.
'use strict';
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class CountingReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      // Runs after Spec's own epilogue, so this is the last line.
      setImmediate(() => {
        if (s.pending) process.stdout.write(`${s.pending} skipped\n`);
        process.stdout.write(`${s.passes || 0} passed, ${s.failures || 0} failed\n`);
      });
    });
  }
}
module.exports = CountingReporter;
