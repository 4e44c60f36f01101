/**
 * TCP state machine of the modern kernel (spec §2.1–§2.5): 11 states, the normal and
 * the secure_tcp ("dos") tables, each with INPUT, OUTPUT and INPUT-ONLY blocks.
 */
import { IPPROTO_TCP } from '../constants.js';
import { DIR_INPUT, DIR_INPUT_ONLY, DIR_OUTPUT, type ProtocolModule } from './types.js';

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;

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
export const TCP_DEFAULT_TIMEOUTS = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/** Row of the table for a TCP flag byte (§2.2): -1 means "no lookup, go to CLOSE". */
export const ROW_SYN = 0;
export const ROW_FIN = 1;
export const ROW_ACK = 2;
export const ROW_RST = 3;

export function tcpRow(flags: number): number {
  if (flags & TCP_RST) return ROW_RST;
  if (flags & TCP_SYN) return ROW_SYN;
  if (flags & TCP_FIN) return ROW_FIN;
  if (flags & TCP_ACK) return ROW_ACK;
  return -1;
}

// Table text, one row per flag row, columns NO ES SS SR FW TW CL CW LA LI SA.
const ABBR: Record<string, number> = {
  NO: 0,
  ES: 1,
  SS: 2,
  SR: 3,
  FW: 4,
  TW: 5,
  CL: 6,
  CW: 7,
  LA: 8,
  LI: 9,
  SA: 10,
};

function block(rows: string[]): number[][] {
  return rows.map((r) =>
    r
      .trim()
      .split(/\s+/)
      .map((a) => ABBR[a]),
  );
}

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

export const tcpProtocol: ProtocolModule = {
  protocol: IPPROTO_TCP,
  name: 'TCP',
  numStates: TCP_S_LAST,
  stateName: (s) => TCP_STATE_NAMES[s] ?? 'BUG!',
  stateByName: (n) => TCP_STATE_NAMES.indexOf(n.toUpperCase()),
  defaultTimeouts: () => TCP_DEFAULT_TIMEOUTS.slice(),
  isActive: tcpIsActive,
};
