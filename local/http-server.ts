/**
 * Starting and stopping the local runtime's own HTTP servers (the gateway, dynalite): always on
 * loopback, a port of 0 picks a free one, and stopping does not wait for idle keep-alive sockets.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on 127.0.0.1:`port` and resolves with the port actually bound (the free one picked
 * when `port` is 0); rejects when the port cannot be bound (EADDRINUSE). Errors after that are
 * the caller's to handle.
 */
export function listenOnLoopback(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops a server and drops its open connections, so an idle keep-alive client cannot hold it open; nothing to do for none. */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
