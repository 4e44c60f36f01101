/**
 * The TCP connection the stream checkers (TCP, HTTP, SSL, SMTP) share: node's socket,
 * or socat's when the checker needs a mark or a device (socat.ts).
 *
 * @module
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { KaChecker } from '../keepalived/types.js';
import { destination, hostPort, source, type CheckTarget } from './socket.js';
import { needsSocat, socatTcp } from './socat.js';

/**
 * Opens a TCP connection within connect_timeout. Resolves to the stream, or rejects
 * with the reason (refused, unreachable, timeout) as keepalived logs it. With fwmark
 * or bind_if (off a link-local zone) socat makes the connection (socat.ts).
 */
export async function connectTcp(c: KaChecker, t: CheckTarget): Promise<Duplex> {
  if (needsSocat(c, t)) return socatTcp(c, t);
  const { host, port } = destination(c, t);
  return new Promise<Duplex>((resolve, reject) => {
    const sock = connect({ host, port, localAddress: source(c), localPort: c.bindPort });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`Timeout connecting ${hostPort(host, port)}`));
    }, c.connectTimeout * 1000);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      // errors between the checker's reads must not go unheard (an unhandled 'error'
      // event would end the daemon): each step also listens, and 'close' follows
      sock.on('error', () => undefined);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      sock.destroy();
      reject(new Error(`Error connecting ${hostPort(host, port)}: ${e.message}`));
    });
  });
}
