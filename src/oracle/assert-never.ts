/** Compile-time exhaustiveness check for switches over closed unions; throws if a value slips through at run time. */
export function assertNever(value: never, what: string): never {
  throw new TypeError(`unhandled ${what}: ${String(value)}`);
}
