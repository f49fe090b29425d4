// Browser-safe (the HTML page script imports it): where an attachment lives beside the report.
import type { Attachment } from '../model/index.js';

/** The folder beside report.json and index.html that holds every attachment of the run. */
export const EVIDENCE_DIR = 'evidence';

const ATTACHMENT_ID = /^[a-z0-9-]{1,128}$/;

/**
 * `evidence/<id>.txt` or `evidence/<id>.json`, relative to the run folder; undefined for an id that is not
 * `[a-z0-9-]{1,128}` (no such file is written: nothing named by data can point outside the folder).
 */
export function attachmentPath(a: Pick<Attachment, 'id' | 'mediaType'>): string | undefined {
  if (typeof a.id !== 'string' || !ATTACHMENT_ID.test(a.id)) return undefined;
  return `${EVIDENCE_DIR}/${a.id}.${a.mediaType === 'application/json' ? 'json' : 'txt'}`;
}
