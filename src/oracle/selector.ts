/** `null` (no selector) and `{}` (no labels) both select a whole namespace in sidecar mode (spec R2.5). */
export function isEmptySelector(selector: Readonly<Record<string, string>> | null): boolean {
  return selector === null || Object.keys(selector).length === 0;
}

/** Subset match (spec R2.4): every selector label present on the workload with an equal value; extra labels allowed. */
export function selectorMatches(selector: Readonly<Record<string, string>> | null, labels: Readonly<Record<string, string>>): boolean {
  if (selector === null) return true;
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}
