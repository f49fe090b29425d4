import { hostname } from 'node:os';

/** Every namespace and object a kube run creates carries `meshconform.run=<run-id>`; `meshconform reap --context` finds leftovers by it. */
export const RUN_LABEL = 'meshconform.run';
/** Pods and Services of one scenario workload (the workload's name). */
export const WORKLOAD_LABEL = 'meshconform.workload';
/** Owner process and host, as namespace annotations (a host name is not always a valid label value). */
export const PID_ANNOTATION = 'meshconform.dev/pid';
export const HOST_ANNOTATION = 'meshconform.dev/host';
/** Server-side apply field manager of every object the harness applies. */
export const FIELD_MANAGER = 'meshconform';
/** kind clusters a run creates are named `meshconform-<suffix>`; `meshconform reap --kind` deletes them. */
export const KIND_CLUSTER_PREFIX = 'meshconform-';

export type OwnerAnnotations = Readonly<Record<string, string>>;

export function ownerAnnotations(): OwnerAnnotations {
  return { [PID_ANNOTATION]: String(process.pid), [HOST_ANNOTATION]: hostname() };
}

/** A short, label-safe suffix of a run id (`20261127T174100Z-a1b2c3` → `a1b2c3`). */
export function runSuffix(runId: string): string {
  const tail = runId.split('-').at(-1) ?? runId;
  return (
    tail
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 12) || 'run'
  );
}
