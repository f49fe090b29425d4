import type { Backend, BackendSession, HostBackend } from '../model/index.js';

/**
 * The strategy of the backends that start each scenario's environment on this host: the data plane starts with its
 * policies in place (cells settle by retries), scenarios may overlap, the host probes, and closing the session sweeps
 * whatever the run left (docker and netns label every resource with the run id).
 */
export function hostBackend(b: HostBackend): Backend {
  return {
    name: b.name,
    settle: 'retries',
    parallelScenarios: true,
    ...(b.chaosCapabilities ? { chaosCapabilities: b.chaosCapabilities } : {}),
    async open(o): Promise<BackendSession> {
      return {
        details: () => ({ ...(b.details ?? {}) }),
        deploy: (options) => b.start(options),
        ...(b.closeRun ? { onInterrupt: () => b.closeRun!(o.runId) } : {}),
        ...(b.releaseIdle ? { staticDone: () => b.releaseIdle!() } : {}),
        close: async () => {
          await b.removeRun?.(o.runId);
        },
      };
    },
  };
}

export function isSessionBackend(b: HostBackend | Backend): b is Backend {
  return 'open' in b;
}
