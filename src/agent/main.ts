/**
 * The meshconform probe agent: a long-lived process that takes batches of probe jobs as JSON lines on stdin and
 * answers with one observation a job on stdout (the line protocol of src/model/agent-protocol.ts), probing with
 * src/probe, exactly as the harness probes from the host. One session (one `kubectl exec -i` stream, or one local
 * pipe) carries every batch of a run: never one process per probe. The build bundles it into one file that needs
 * only Node (harness/probe-agent/probe-agent.mjs), which the kube backend ships into the probe pod.
 *
 *   node probe-agent.mjs          # a session on stdin/stdout
 *   node probe-agent.mjs --hold   # idle until SIGTERM (the probe pod's main process)
 */
import { AgentProtocolError } from './protocol-error.js';
import { lineWriter } from './lines.js';
import { runSession } from './session.js';

if (process.argv.includes('--hold')) {
  hold();
} else {
  session();
}

/** The pod's main process: nothing to do but stay alive and stop at once when asked. */
function hold(): void {
  const t = setInterval(() => {}, 1 << 30);
  for (const s of ['SIGTERM', 'SIGINT'] as const) {
    process.once(s, () => {
      clearInterval(t);
      process.exit(0);
    });
  }
  process.stderr.write('meshconform-probe-agent: holding; sessions run with `node probe-agent.mjs` on stdin/stdout\n');
}

/** A session on stdin/stdout: exit 0 when it ends, 2 after an `error` line. */
function session(): void {
  process.stdout.on('error', () => process.exit(2)); // the reader went away
  const emit = lineWriter(process.stdout);
  runSession(process.stdin, emit).then(
    () => process.stdout.write('', () => process.exit(0)),
    (err: unknown) => {
      const message = err instanceof AgentProtocolError ? err.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
      // After the observations already queued, so the host reads them before the error.
      void emit({ type: 'error', message }).then(() => process.stdout.write('', () => process.exit(2)));
    },
  );
}
