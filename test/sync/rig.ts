/**
 * Shared rig of the sync tests: a NAT director engine (two real servers), a packet sender,
 * a master whose datagrams are collected, and the client's side of a TCP conversation.
 */
import { Engine, type ServiceKey } from '../../src/engine/engine.js';
import { SVC_F_PERSISTENT } from '../../src/engine/constants.js';
import { SyncMaster } from '../../src/sync/master.js';
import { decodeSync, type SyncConn } from '../../src/sync/message.js';
import { ACK, FIN, SYN, buildPacket, rng, type PacketSpec } from '../helpers/packets.js';

export const VIP = '10.0.3.100';
export const CIP = '10.0.1.2';
export const RIP1 = '10.0.2.11';
export const RIP2 = '10.0.2.12';
export const TCP80: ServiceKey = { af: 4, protocol: 6, addr: VIP, port: 80 };

export function director(persistent = false, settings = {}): Engine {
  const e = new Engine({ random: rng(3), settings });
  e.addService(
    TCP80,
    persistent ? { scheduler: 'rr', flags: SVC_F_PERSISTENT, timeout: 300 } : { scheduler: 'rr' },
  );
  e.addDest(TCP80, { addr: RIP1, port: 8080, fwd: 'masq' });
  e.addDest(TCP80, { addr: RIP2, port: 8080, fwd: 'masq' });
  return e;
}

export function send(e: Engine, dir: 'in' | 'out', p: PacketSpec, now: number): number {
  const raw = buildPacket(p);
  const buf = new Uint8Array(raw.length + 64);
  buf.set(raw, 64);
  return dir === 'in' ? e.in(buf, 64, raw.length, now) : e.out(buf, 64, raw.length, now);
}

/** A master engine whose datagrams are collected (flushed after every packet). */
export function master(e: Engine): { m: SyncMaster; records: () => SyncConn[] } {
  const got: Uint8Array[] = [];
  const m = new SyncMaster(e, { syncId: 7, send: (d) => got.push(d) });
  m.attach();
  return {
    m,
    records: () => {
      m.flush();
      const out = got.flatMap((d) => decodeSync(d).conns);
      got.length = 0;
      return out;
    },
  };
}

/** The client's side of a conversation through the director (NAT: RS answers from RIP). */
export function conversation(e: Engine, t0: number, cport: number) {
  let t = t0;
  const c = { src: CIP, dst: VIP, sport: cport, dport: 80 };
  const rs = () => {
    const conn = e.connections().find((x) => x.cport === cport && !x.template)!;
    return { src: conn.daddr, dst: CIP, sport: 8080, dport: cport };
  };
  return {
    syn: () => send(e, 'in', { ...c, flags: SYN }, (t += 1)),
    synack: () => send(e, 'out', { ...rs(), flags: SYN | ACK }, (t += 1)),
    ack: (payload = '') => send(e, 'in', { ...c, flags: ACK, payload }, (t += 1)),
    fin: () => send(e, 'in', { ...c, flags: FIN | ACK }, (t += 1)),
    rsFin: () => send(e, 'out', { ...rs(), flags: FIN | ACK }, (t += 1)),
  };
}
