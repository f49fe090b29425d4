import type { ClientKind, RunResult } from '../../model/index.js';
import type { RunComparison } from '../compare-runs.js';
import type { GroupResult } from '../profile-results.js';

/** A policy of a scenario as the page shows it. */
export interface PolicyDoc {
  readonly namespace: string;
  readonly name: string;
  readonly yaml: string;
}

/** What html-reporter.ts embeds in #meshconform-data and assets/report.ts renders. */
export interface PageData {
  readonly run: RunResult;
  /** Attachments whose text the page left out (too much in all): only their files beside the report hold it. */
  readonly omittedAttachments: readonly string[];
  readonly clients: readonly ClientKind[];
  /** Per scenario run (same index as run.scenarios). */
  readonly policyDocs: readonly (readonly PolicyDoc[])[];
  readonly policyYaml: readonly string[];
  readonly profiles: readonly (GroupResult & { readonly description: string })[];
  readonly features: readonly GroupResult[];
  readonly comparison: (RunComparison & { readonly file: string }) | null;
  /** The text of every docs/spec.md rule a cell cites, by id (`R5.3`), as plain text: the page links rule ids here. */
  readonly rules: Readonly<Record<string, RuleText>>;
}

/** One cited rule as the page shows it. */
export interface RuleText {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}
