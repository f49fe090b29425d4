import { getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';
import type Dockerode from 'dockerode';
import { BackendError } from '../../util/errors.js';

/** The engine the docker backend talks to: testcontainers' runtime client and its dockerode (for IPAM, import, kill). */
export interface DockerEngine {
  readonly client: ContainerRuntimeClient;
  readonly docker: Dockerode;
}

/** Finds the Docker engine the way testcontainers does (DOCKER_HOST, then the default socket); one clear error if none answers. */
export async function connectDockerEngine(): Promise<DockerEngine> {
  let client: ContainerRuntimeClient;
  try {
    client = await getContainerRuntimeClient();
  } catch (err) {
    const where = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'DOCKER_HOST is not set; tried the default socket /var/run/docker.sock';
    throw new BackendError(
      `no Docker engine is reachable (${where}): ${firstLine(err)}. Start dockerd and point DOCKER_HOST at it (README, "Docker backend"), or use --backend local`,
      { cause: err },
    );
  }
  const docker = client.container.dockerode;
  try {
    await docker.ping();
  } catch (err) {
    throw new BackendError(`the Docker engine at ${process.env.DOCKER_HOST ?? 'the default socket'} does not answer: ${firstLine(err)}`, { cause: err });
  }
  return { client, docker };
}

export function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return (m.split('\n')[0] ?? m).trim();
}
