/**
 * SSL_GET's TLS layer (check_ssl.c): a client context built from the top-level `SSL`
 * block — `certificate` (a chain file) and `key` (with `password`) presented when the
 * server asks for a client certificate, `ca` loaded — and SNI with `enable_sni` (the
 * url's virtualhost, else the checker's). keepalived 2.2 never sets SSL_VERIFY_PEER,
 * so the server's certificate is not verified, with or without `ca`: tsvs does the
 * same (a check of health, not of identity), and says so in the docs.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import type { KaChecker, KaSsl, KaUrl } from '../keepalived/types.js';

const contexts = new WeakMap<KaSsl, SecureContext>();

/** The client context of an SSL block; throws with keepalived's message when a file cannot be used. */
export function sslContext(ssl: KaSsl | undefined): SecureContext | undefined {
  if (!ssl) return undefined;
  const have = contexts.get(ssl);
  if (have) return have;
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`SSL error: Cant load ${what} file ${file}: ${(e as Error).message}`);
    }
  };
  let ctx: SecureContext;
  try {
    ctx = createSecureContext({
      cert: ssl.certificate !== undefined ? read(ssl.certificate, 'certificate') : undefined,
      key: ssl.key !== undefined ? read(ssl.key, 'key') : undefined,
      passphrase: ssl.password,
      ca: ssl.ca !== undefined ? read(ssl.ca, 'CA') : undefined,
    });
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith('SSL error') ? m : `SSL error: ${m}`);
  }
  contexts.set(ssl, ctx);
  return ctx;
}

/** Runs the TLS handshake over a connected socket within connect_timeout. */
export function tlsWrap(c: KaChecker, sock: Duplex, url: KaUrl): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let ctx: SecureContext | undefined;
    try {
      ctx = sslContext(c.ssl);
    } catch (e) {
      sock.destroy();
      return reject(e as Error);
    }
    const sni = c.enableSni ? (url.virtualhost ?? c.virtualhost) : undefined;
    const tls = connect({
      socket: sock,
      secureContext: ctx,
      rejectUnauthorized: false,
      // node sends no SNI for an IP literal; keepalived sends one only with enable_sni
      servername: sni ?? '',
    });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new Error('Timeout connecting (SSL handshake)'));
    }, c.connectTimeout * 1000);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.removeAllListeners('error');
      // errors between the checker's reads must not go unheard (an unhandled 'error'
      // event would end the daemon): each step also listens, and 'close' follows
      tls.on('error', () => undefined);
      resolve(tls);
    });
    tls.once('error', (e) => {
      clearTimeout(timer);
      tls.destroy();
      reject(new Error(`SSL handshake/communication error: ${e.message}`));
    });
  });
}
