/**
 * TCP (the kernel's ip_vs_proto_tcp.c): the state machine of the modern kernel
 * (spec §2.1–§2.5) — 11 states, the normal and the secure_tcp ("dos") tables, each
 * with INPUT, OUTPUT and INPUT-ONLY blocks — and the ops object the core calls.
 */
import { CONN_F_NOOUTPUT, IPPROTO_TCP } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { TIMEOUT_DEFAULTS } from '../spec.js';
import { Why } from '../verdict.js';
import { appConnBind, appHookSeq } from '../app/seq.js';
import { assureTemplate } from '../conn/template.js';
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from '../../wire/tcp.js';
import type { PacketView } from '../../wire/packet.js';
import { l4CsumCheck, l4DnatHandler, l4SnatHandler } from './l4.js';
import { destAccount, parseStateBlock, setStateAccounted, transitionBlock } from './state.js';
import {
  DIR_INPUT,
  DIR_INPUT_ONLY,
  DIR_OUTPUT,
  DROPENTRY_ALWAYS,
  DROPENTRY_KEEP,
  DROPENTRY_MAYBE,
  type ProtocolOps,
} from './types.js';

export const TCP_S_NONE = 0;
export const TCP_S_ESTABLISHED = 1;
export const TCP_S_SYN_SENT = 2;
export const TCP_S_SYN_RECV = 3;
export const TCP_S_FIN_WAIT = 4;
export const TCP_S_TIME_WAIT = 5;
export const TCP_S_CLOSE = 6;
export const TCP_S_CLOSE_WAIT = 7;
export const TCP_S_LAST_ACK = 8;
export const TCP_S_LISTEN = 9;
export const TCP_S_SYNACK = 10;
export const TCP_S_LAST = 11;

export const TCP_STATE_NAMES = [
  'NONE',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'SYNACK',
];

/** Default timeouts in seconds, by state (§2.1). */
export const TCP_DEFAULT_TIMEOUTS: readonly number[] = [
  2,
  TIMEOUT_DEFAULTS.tcp,
  120,
  60,
  TIMEOUT_DEFAULTS.tcpfin,
  120,
  10,
  60,
  30,
  120,
  120,
];

/** Row of the table for a TCP flag byte (§2.2): -1 means "no lookup, go to CLOSE". */
export const ROW_SYN = 0;
export const ROW_FIN = 1;
export const ROW_ACK = 2;
export const ROW_RST = 3;

export function tcpRow(flags: number): number {
  if (flags & TCP_FLAG_RST) return ROW_RST;
  if (flags & TCP_FLAG_SYN) return ROW_SYN;
  if (flags & TCP_FLAG_FIN) return ROW_FIN;
  if (flags & TCP_FLAG_ACK) return ROW_ACK;
  return -1;
}

// Table text, one row per flag row, columns NO ES SS SR FW TW CL CW LA LI SA.
const ABBR = ['NO', 'ES', 'SS', 'SR', 'FW', 'TW', 'CL', 'CW', 'LA', 'LI', 'SA'];
const block = (rows: string[]): number[][] => parseStateBlock(ABBR, rows);

// prettier-ignore
const NORMAL = [
  block([ // INPUT
    'SR ES ES SR SR SR SR SR SR SR SR', // syn
    'CL CW SS TW TW TW CL CW LA LI TW', // fin
    'ES ES SS ES FW TW CL CW CL LI ES', // ack
    'CL CL CL SR CL CL CL CL LA LI SR', // rst
  ]),
  block([ // OUTPUT
    'SS ES SS SR SS SS SS SS SS LI SR',
    'TW FW SS TW FW TW CL TW LA LI TW',
    'ES ES SS ES FW TW CL CW LA ES ES',
    'CL CL SS CL CL TW CL CL CL CL CL',
  ]),
  block([ // INPUT-ONLY
    'SR ES ES SR SR SR SR SR SR SR SR',
    'CL FW SS TW FW TW CL CW LA LI TW',
    'ES ES SS ES FW TW CL CW CL LI ES',
    'CL CL CL SR CL CL CL CL LA LI CL',
  ]),
];

// prettier-ignore
const SECURE = [
  block([ // INPUT
    'SR ES ES SR SR SR SR SR SR SR SA',
    'CL CW SS TW TW TW CL CW LA LI SA',
    'ES ES SS SR FW TW CL CW CL LI SA',
    'CL CL CL SR CL CL CL CL LA LI CL',
  ]),
  block([ // OUTPUT
    'SS ES SS SA SS SS SS SS SS LI SA',
    'TW FW SS TW FW TW CL TW LA LI TW',
    'ES ES SS ES FW TW CL CW LA ES ES',
    'CL CL SS CL CL TW CL CL CL CL CL',
  ]),
  block([ // INPUT-ONLY
    'SA ES ES SR SA SA SA SA SA SA SA',
    'CL FW SS TW FW TW CL CW LA LI TW',
    'ES ES SS ES FW TW CL CW CL LI ES',
    'CL CL CL SR CL CL CL CL LA LI CL',
  ]),
];

/** Flat lookup: [secure][block][row][state] → index secure*132 + block*44 + row*11 + state. */
const TABLE = new Uint8Array(2 * 3 * 4 * 11);
for (let t = 0; t < 2; t++) {
  const src = t === 0 ? NORMAL : SECURE;
  for (let b = 0; b < 3; b++)
    for (let r = 0; r < 4; r++)
      for (let s = 0; s < 11; s++) TABLE[t * 132 + b * 44 + r * 11 + s] = src[b][r][s];
}

/**
 * Next state for a TCP packet (§2.2–§2.3).
 * @param secure the secure_tcp table is in use
 * @param dir DIR_INPUT, DIR_OUTPUT or DIR_INPUT_ONLY (the caller resolves NOOUTPUT)
 */
export function tcpNextState(secure: boolean, dir: number, flags: number, cur: number): number {
  const row = tcpRow(flags);
  if (row < 0) return TCP_S_CLOSE;
  if (cur >= TCP_S_LAST) return cur;
  return TABLE[(secure ? 132 : 0) + dir * 44 + row * 11 + cur];
}

export function tcpIsActive(state: number): boolean {
  return (
    state === TCP_S_ESTABLISHED ||
    state === TCP_S_SYN_SENT ||
    state === TCP_S_SYN_RECV ||
    state === TCP_S_SYNACK
  );
}

export { DIR_INPUT, DIR_OUTPUT, DIR_INPUT_ONLY };

/**
 * set_tcp_state for a packet: the next state from the table, the dest's
 * active/inactive accounting when the state changes, the template ASSURED on
 * ESTABLISHED, and the state's timeout.
 */
function tcpStateTransition(ipvs: Ipvs, id: number, dir: number, pv: PacketView): void {
  const c = ipvs.conns;
  const cur = c.state[id];
  const next = tcpNextState(ipvs.secureTable, transitionBlock(ipvs, id, dir), pv.tcpFlags, cur);
  if (next !== cur && c.dest[id] >= 0) {
    destAccount(ipvs, id, tcpIsActive(next));
    if (next === TCP_S_ESTABLISHED) assureTemplate(ipvs, id);
  }
  c.state[id] = next;
  c.timeout[id] = ipvs.timeouts[IPPROTO_TCP][next];
}

/** The TCP ops (the kernel's `ip_vs_protocol_tcp`). */
export const tcpProtocol: ProtocolOps = {
  protocol: IPPROTO_TCP,
  name: 'TCP',
  numStates: TCP_S_LAST,
  defaultTimeouts: TCP_DEFAULT_TIMEOUTS,
  onePacket: false,
  ftpData: true,
  stateName: (s) => TCP_STATE_NAMES[s] ?? 'BUG!',
  stateByName: (n) => TCP_STATE_NAMES.indexOf(n.toUpperCase()),
  isActive: tcpIsActive,
  isNewConn: (pv) => (pv.tcpFlags & TCP_FLAG_SYN) !== 0,
  connSchedule(ipvs, pv) {
    if (pv.tcpFlags & TCP_FLAG_RST) return Why.RST;
    if (!(pv.tcpFlags & TCP_FLAG_SYN) && !ipvs.settings.sloppy_tcp) return Why.NOT_SYN;
    return Why.NONE;
  },
  connReuse(ipvs, id) {
    const c = ipvs.conns;
    const st = c.state[id];
    return (
      st === TCP_S_TIME_WAIT ||
      st === TCP_S_CLOSE ||
      ((ipvs.settings.conn_reuse_mode & 2) !== 0 &&
        st === TCP_S_FIN_WAIT &&
        (c.flags[id] & CONN_F_NOOUTPUT) !== 0)
    );
  },
  csumCheck: l4CsumCheck,
  dnatHandler: l4DnatHandler,
  snatHandler: l4SnatHandler,
  stateTransition: tcpStateTransition,
  setState: (ipvs, id, state) =>
    setStateAccounted(ipvs, id, IPPROTO_TCP, state, tcpIsActive(state)),
  appConnBind,
  appHook: appHookSeq,
  dropEntry: (state) =>
    state === TCP_S_SYN_RECV || state === TCP_S_SYNACK
      ? DROPENTRY_ALWAYS
      : state === TCP_S_ESTABLISHED
        ? DROPENTRY_MAYBE
        : DROPENTRY_KEEP,
};
