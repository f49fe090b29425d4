export { loadScenarioFile } from './load-scenario-file.js';
export { loadScenarios } from './load-scenarios.js';
export type { LoadScenariosOptions } from './load-scenarios.js';
export { validateAdmission, SELECTOR_WITHOUT_LABELS } from './validate-admission.js';
export type { AdmissionResult } from './validate-admission.js';
export type { Issue, PathSeg } from './diagnostics.js';
export { issueText } from './diagnostics.js';
export { MAX_FILE_BYTES, MAX_ALIAS_COUNT } from './yaml-source.js';
