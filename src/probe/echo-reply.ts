import type { EchoReply, ProbeJob } from '../model/index.js';

/** Prefix of the echo application's raw TCP reply line (harness/echo). */
export const ECHO_LINE_PREFIX = 'MESHCONFORM-ECHO ';
/** Prefix of the line a raw probe sends. */
export const PROBE_LINE_PREFIX = 'MESHCONFORM-PROBE ';

/** The id a probe's payload carries (the echo app records it in its receipts): the attempt's own, else the cell key. */
export function payloadId(job: ProbeJob): string {
  return job.probeId ?? job.key;
}

/** `echo`: a valid reply; `malformed`: the echo app's framing with an invalid body (a harness problem, not a denial). */
export type EchoParse = { readonly kind: 'echo'; readonly echo: EchoReply } | { readonly kind: 'malformed'; readonly why: string };

/** Validates an `EchoReply` JSON body. */
export function parseEchoJson(text: string): EchoParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'malformed', why: `echo reply is not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'malformed', why: 'echo reply is not a JSON object' };
  const v = value as Record<string, unknown>;
  if (typeof v['workload'] !== 'string') return { kind: 'malformed', why: 'echo reply has no string "workload"' };
  if (typeof v['port'] !== 'number' || !Number.isInteger(v['port'])) return { kind: 'malformed', why: 'echo reply has no integer "port"' };
  if (v['received'] !== 'plaintext' && v['received'] !== 'tls') return { kind: 'malformed', why: 'echo reply "received" is not plaintext|tls' };
  if (v['protocol'] !== 'tcp' && v['protocol'] !== 'http') return { kind: 'malformed', why: 'echo reply "protocol" is not tcp|http' };
  if (v['xfcc'] !== undefined && typeof v['xfcc'] !== 'string') return { kind: 'malformed', why: 'echo reply "xfcc" is not a string' };
  const echo: EchoReply = {
    workload: v['workload'],
    port: v['port'],
    received: v['received'],
    protocol: v['protocol'],
    ...(typeof v['xfcc'] === 'string' ? { xfcc: v['xfcc'] } : {}),
  };
  return { kind: 'echo', echo };
}

/** The echo app's raw reply line (without the newline); `undefined` when the line is not the echo app's framing. */
export function parseEchoLine(line: string): EchoParse | undefined {
  if (!line.startsWith(ECHO_LINE_PREFIX)) return undefined;
  return parseEchoJson(line.slice(ECHO_LINE_PREFIX.length).replace(/\r$/, ''));
}

/** True when an HTTP response body looks like it came from the echo app (so a bad body is a harness error). */
export function looksLikeEchoBody(body: string): boolean {
  return /^\s*\{/.test(body) && body.includes('"workload"') && body.includes('"received"');
}
