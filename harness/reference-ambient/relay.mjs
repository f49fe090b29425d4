// @ts-check
/**
 * Opaque byte relay between an admitted client (a captured-plaintext socket, or an HBONE tunnel stream) and the
 * application port. ztunnel is an L4 proxy: it never parses or terminates what the client sends (spec R6.4).
 */
import net from 'node:net';

/**
 * @typedef {object} RelaySettings
 * @property {number} idleTimeoutMs
 * @property {(socket: net.Socket) => void} track registers a socket so shutdown can destroy it
 * @property {(message: string) => void} debug
 */

/**
 * Connect to the application; `onConnected` runs once the application accepted (the HBONE path answers the CONNECT
 * then), `onFailed` if it could not be reached (nothing is piped then). Half-closes propagate; an abrupt end of
 * either side takes the other with it.
 * @param {import('node:stream').Duplex} client
 * @param {{ host: string, port: number, label: string }} app
 * @param {RelaySettings} settings
 * @param {{ onConnected?: () => void, onFailed?: (err: Error) => void }} [hooks]
 */
export function relay(client, app, settings, hooks = {}) {
  const up = net.connect({ host: app.host, port: app.port, allowHalfOpen: true });
  settings.track(up);
  up.setNoDelay(true);
  up.setTimeout(settings.idleTimeoutMs, () => up.destroy());
  let connected = false;
  up.once('connect', () => {
    connected = true;
    hooks.onConnected?.();
    client.pipe(up);
    up.pipe(client);
  });
  up.on('error', (err) => {
    settings.debug(`${app.label}: application ${app.host}:${app.port}: ${err.message}`);
    up.destroy();
    if (!connected && hooks.onFailed) hooks.onFailed(err);
    else client.destroy();
  });
  client.on('error', () => up.destroy());
  client.on('close', () => {
    if (!client.readableEnded) up.destroy();
  });
  up.on('close', () => {
    if (connected && !up.readableEnded) client.destroy();
  });
}
