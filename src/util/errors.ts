import type { SourcePos } from '../model/index.js';

/** Exit codes of the `meshconform` command. */
export const EXIT = { ok: 0, mismatch: 1, usage: 2 } as const;

/** Base of every error the harness reports to a user as one clear message (exit 2, no stack trace). */
export class MeshconformError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad scenario or policy input; `pos` names file:line:column. */
export class ScenarioError extends MeshconformError {
  readonly pos: SourcePos | undefined;
  constructor(message: string, pos?: SourcePos, options?: { cause?: unknown }) {
    super(pos ? `${formatPos(pos)}: ${message}` : message, options);
    this.pos = pos;
  }
}

/** Bad command-line usage. */
export class UsageError extends MeshconformError {}

/** The environment (backend or data plane) could not be brought up or torn down. */
export class BackendError extends MeshconformError {}

/** A probe could not be run (not a denial). */
export class ProbeError extends MeshconformError {}

export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

/** A fault in meshconform itself (an oracle invariant broken): exit 2 naming where, never a skipped scenario. */
export class HarnessBugError extends MeshconformError {}
