/**
 * SCTP (the kernel's ip_vs_proto_sctp.c): 14 states as the real server sees the
 * association, one table per direction (INPUT, OUTPUT, INPUT-ONLY) indexed by the event
 * of the packet's first chunk, the per-state timeouts (`sctp_timeouts`), and the NAT
 * handlers, which recompute the CRC32c of the whole packet when they change a port
 * (SCTP's checksum has no pseudo-header: a changed address alone leaves it valid).
 *
 * Only INIT may create a connection (or any chunk but ABORT with sloppy_sctp); an
 * SCTP packet without a chunk header is dropped when it would be scheduled, as the
 * kernel's sctp_conn_schedule does. `--set` never touches these timeouts (the kernel's
 * ip_vs_set_timeout knows TCP and UDP only); they are read and set per state.
 */
import { IPPROTO_SCTP } from '../constants.js';
import type { Ipvs } from '../ipvs.js';
import { PKT_CSUM_OK, PKT_CSUM_PARTIAL } from '../ipvs.js';
import { Why } from '../verdict.js';
import { appConnBind, appHookPlain } from '../app/seq.js';
import { assureTemplate } from '../conn/template.js';
import {
  SCTP_CID_ABORT,
  SCTP_CID_COOKIE_ACK,
  SCTP_CID_COOKIE_ECHO,
  SCTP_CID_INIT,
  SCTP_DPORT,
  SCTP_HLEN,
  SCTP_SPORT,
  sctpChecksumFill,
  sctpChecksumOk,
  sctpChunkLength,
  sctpChunkType,
} from '../../wire/sctp.js';
import type { PacketView } from '../../wire/packet.js';
import { natRewrite } from './nat.js';
import { destAccount, parseStateBlock, setStateAccounted, transitionBlock } from './state.js';
import { DROPENTRY_ALWAYS, DROPENTRY_KEEP, DROPENTRY_MAYBE, type ProtocolOps } from './types.js';

export const SCTP_S_NONE = 0;
/** First client INIT seen, no INIT-ACK yet (short timeout: dropped INITs). */
export const SCTP_S_INIT1 = 1;
/** A further client INIT, no INIT-ACK yet. */
export const SCTP_S_INIT = 2;
/** The server's INIT-ACK seen, waiting for the client's COOKIE-ECHO. */
export const SCTP_S_COOKIE_SENT = 3;
/** The client's COOKIE-ECHO seen, waiting for the server's COOKIE-ACK. */
export const SCTP_S_COOKIE_REPLIED = 4;
/** The server sent INIT (it opens the association), waiting for the client's INIT-ACK. */
export const SCTP_S_COOKIE_WAIT = 5;
/** The client's INIT-ACK seen, waiting for the server's COOKIE-ECHO. */
export const SCTP_S_COOKIE = 6;
/** The server's COOKIE-ECHO seen, waiting for the client's COOKIE-ACK. */
export const SCTP_S_COOKIE_ECHOED = 7;
export const SCTP_S_ESTABLISHED = 8;
export const SCTP_S_SHUTDOWN_SENT = 9;
export const SCTP_S_SHUTDOWN_RECEIVED = 10;
export const SCTP_S_SHUTDOWN_ACK_SENT = 11;
/** INIT answered with ABORT (short timeout). */
export const SCTP_S_REJECTED = 12;
export const SCTP_S_CLOSED = 13;
export const SCTP_S_LAST = 14;

/** State names as the kernel lists them (`sctp_state_name_table`). */
export const SCTP_STATE_NAMES: readonly string[] = [
  'NONE',
  'INIT1',
  'INIT',
  'C-SENT',
  'C-REPLIED',
  'C-WAIT',
  'COOKIE',
  'C-ECHOED',
  'ESTABLISHED',
  'S-SENT',
  'S-RECEIVED',
  'S-ACK-SENT',
  'REJECTED',
  'CLOSED',
];

/** The longest retransmission timeout the kernel allows for (60 s) plus one second. */
const MAX_RTO = 61;

/** Default timeouts in seconds, by state (the kernel's `sctp_timeouts`). */
export const SCTP_DEFAULT_TIMEOUTS: readonly number[] = [
  2, // NONE
  4, // INIT1: 0 + 3 + 1
  MAX_RTO, // INIT
  MAX_RTO, // COOKIE_SENT
  MAX_RTO, // COOKIE_REPLIED
  MAX_RTO, // COOKIE_WAIT
  MAX_RTO, // COOKIE
  MAX_RTO, // COOKIE_ECHOED
  15 * 60, // ESTABLISHED
  MAX_RTO, // SHUTDOWN_SENT
  MAX_RTO, // SHUTDOWN_RECEIVED
  MAX_RTO, // SHUTDOWN_ACK_SENT
  4, // REJECTED: 0 + 3 + 1
  MAX_RTO, // CLOSED
];

/** Events: what the first chunk of a packet is to the state table (`ipvs_sctp_event_t`). */
export const SCTP_EV_DATA = 0;
export const SCTP_EV_INIT = 1;
export const SCTP_EV_INIT_ACK = 2;
export const SCTP_EV_COOKIE_ECHO = 3;
export const SCTP_EV_COOKIE_ACK = 4;
export const SCTP_EV_SHUTDOWN = 5;
export const SCTP_EV_SHUTDOWN_ACK = 6;
export const SCTP_EV_SHUTDOWN_COMPLETE = 7;
export const SCTP_EV_ERROR = 8;
export const SCTP_EV_ABORT = 9;
export const SCTP_EV_LAST = 10;

/**
 * Event of each chunk type 0..14 (`sctp_events`): SACK, HEARTBEAT(-ACK), ECNE and CWR
 * count as DATA; every type from 15 up (AUTH, ASCONF, FORWARD-TSN …) as well.
 */
const EVENT_OF_CHUNK = Uint8Array.of(
  SCTP_EV_DATA, // DATA
  SCTP_EV_INIT, // INIT
  SCTP_EV_INIT_ACK, // INIT_ACK
  SCTP_EV_DATA, // SACK
  SCTP_EV_DATA, // HEARTBEAT
  SCTP_EV_DATA, // HEARTBEAT_ACK
  SCTP_EV_ABORT, // ABORT
  SCTP_EV_SHUTDOWN, // SHUTDOWN
  SCTP_EV_SHUTDOWN_ACK, // SHUTDOWN_ACK
  SCTP_EV_ERROR, // ERROR
  SCTP_EV_COOKIE_ECHO, // COOKIE_ECHO
  SCTP_EV_COOKIE_ACK, // COOKIE_ACK
  SCTP_EV_DATA, // ECN_ECNE
  SCTP_EV_DATA, // ECN_CWR
  SCTP_EV_SHUTDOWN_COMPLETE, // SHUTDOWN_COMPLETE
);

// Table text, one row per event, columns NO I1 IN CS CR CW CO CE ES SS SR SA RJ CL.
const ABBR = ['NO', 'I1', 'IN', 'CS', 'CR', 'CW', 'CO', 'CE', 'ES', 'SS', 'SR', 'SA', 'RJ', 'CL'];
const block = (rows: string[]): number[][] => parseStateBlock(ABBR, rows);

// prettier-ignore
const STATES = [
  block([ // INPUT (client → server)
    'ES I1 IN CS CR CW CO CE ES SS SR SA RJ CL', // data
    'I1 IN IN CS CR CW CO CE ES SS SR SA IN IN', // init
    'CW CW CW CS CR CO CO CE ES SS SR SA RJ CL', // init_ack
    'CR IN IN CR CR CW CO CE ES SS SR SA RJ CL', // cookie_echo
    'ES I1 IN CS CR CW CO ES ES SS SR SA RJ CL', // cookie_ack
    'SR I1 IN CS CR CW CO CE SR SS SR SA RJ CL', // shutdown
    'CL IN IN CS CR CW CO CE ES CL SR CL RJ CL', // shutdown_ack
    'CL CL CL CS CR CW CO CE ES SS SR CL RJ CL', // shutdown_complete
    'CL I1 IN CS CR CW CO CL ES SS SR SA RJ CL', // error
    'CL CL CL CL CL RJ CL CL CL CL CL CL CL CL', // abort
  ]),
  block([ // OUTPUT (server → client)
    'ES I1 IN CS CR CW CO CE ES SS SR SA RJ CL',
    'CW CW CW CW CW CW CW CW ES CW CW CW CW CW',
    'CS CS CS CS CR CW CO CE ES SS SR SA RJ CL',
    'CE CE CE CE CE CE CE CE ES SS SR SA RJ CL',
    'ES ES ES ES ES ES ES ES ES SS SR SA RJ CL',
    'SS SS SS SS SS SS SS SS SS SS SR SA RJ CL',
    'SA SA SA SA SA CW CO CE ES SA SA SA RJ CL',
    'CL I1 IN CS CR CW CO CE ES SS SR SA RJ CL',
    'CL CL CL CL CL CW CO CE ES SS SR SA RJ CL',
    'CL RJ CL CL CL CL CL CL CL CL CL CL CL CL',
  ]),
  block([ // INPUT-ONLY (no reply seen: DR/TUN, the server's packets bypass us)
    'ES I1 IN CS CR ES CO CE ES SS SR SA RJ CL',
    'I1 IN IN IN IN IN CO CE ES SS SR SA IN IN',
    'CE CE CE CE CE CE CO CE ES SS SR SA RJ CL',
    'ES ES ES ES ES ES CO CE ES SS SR SA RJ CL',
    'ES I1 IN ES ES CW ES ES ES SS SR SA RJ CL',
    'SR I1 IN CS CR CW CO CE SR SS SR SA RJ CL',
    'CL IN IN CS CR CW CO CE CL CL SR CL RJ CL',
    'CL CL CL CL CL CW CO CE ES SS CL CL RJ CL',
    'CL I1 IN CS CR CW CO CE ES SS SR SA RJ CL',
    'CL CL CL CL CL RJ CL CL CL CL CL CL CL CL',
  ]),
];

const ROW = SCTP_S_LAST;
const BLOCK = SCTP_EV_LAST * ROW;
/** Flat lookup: [block][event][state] → index block*140 + event*14 + state. */
const TABLE = new Uint8Array(3 * BLOCK);
for (let b = 0; b < 3; b++)
  for (let ev = 0; ev < SCTP_EV_LAST; ev++)
    for (let s = 0; s < ROW; s++) TABLE[b * BLOCK + ev * ROW + s] = STATES[b][ev][s];

/**
 * Next state (the kernel's `sctp_states[dir][event][state]`).
 * @param dir DIR_INPUT, DIR_OUTPUT or DIR_INPUT_ONLY (the caller resolves NOOUTPUT)
 */
export function sctpNextState(dir: number, event: number, cur: number): number {
  if (cur >= SCTP_S_LAST) return cur;
  return TABLE[dir * BLOCK + event * ROW + cur];
}

/**
 * The event of the SCTP packet in `pv` (set_sctp_state): its first chunk's, except
 * that a COOKIE-ECHO or COOKIE-ACK bundled with an ABORT right after it counts as
 * the ABORT. -1 when the packet has no chunk header.
 */
export function sctpEvent(pv: PacketView): number {
  const buf = pv.buf;
  const end = pv.l3off + pv.l3len;
  const at = pv.l4off + SCTP_HLEN;
  let type = sctpChunkType(buf, at, end);
  if (type < 0) return -1;
  if (type === SCTP_CID_COOKIE_ECHO || type === SCTP_CID_COOKIE_ACK) {
    const clen = sctpChunkLength(buf, at);
    if (clen >= 4 && sctpChunkType(buf, at + ((clen + 3) & ~3), end) === SCTP_CID_ABORT)
      type = SCTP_CID_ABORT;
  }
  return type < EVENT_OF_CHUNK.length ? EVENT_OF_CHUNK[type] : SCTP_EV_DATA;
}

export function sctpIsActive(state: number): boolean {
  return state === SCTP_S_ESTABLISHED;
}

/**
 * set_sctp_state: the next state from the table, the dest's active/inactive accounting
 * and the template ASSURED when the state changes (ESTABLISHED alone is active), and
 * the state's timeout. A packet without a chunk header changes nothing.
 */
function sctpStateTransition(ipvs: Ipvs, id: number, dir: number, pv: PacketView): void {
  const event = sctpEvent(pv);
  if (event < 0) return;
  const c = ipvs.conns;
  const cur = c.state[id];
  const next = sctpNextState(transitionBlock(ipvs, id, dir), event, cur);
  if (next !== cur) {
    destAccount(ipvs, id, next === SCTP_S_ESTABLISHED);
    if (next === SCTP_S_ESTABLISHED) assureTemplate(ipvs, id);
  }
  c.state[id] = next;
  c.timeout[id] = ipvs.timeouts[IPPROTO_SCTP][next];
}

/**
 * The NAT handlers' rewrite (sctp_dnat_handler / sctp_snat_handler with the address
 * change of the transmitter): the address (and the IPv4 header checksum) always; the
 * port and the CRC32c of the whole packet when the port changes, when a helper changed
 * the payload (`full`), or when the CRC is still to be computed by an offload
 * (`partial`: user space cannot hand an SCTP CRC to a device, so it is done here, as
 * the kernel does for a device without NETIF_F_SCTP_CRC). A first fragment keeps its
 * CRC: it cannot be computed without the rest of the packet (the kernel reassembles
 * before IPVS sees it; tsvs does not).
 */
function sctpNat(
  ipvs: Ipvs,
  pv: PacketView,
  words: Uint32Array,
  id: number,
  port: number,
  isDst: boolean,
  full: boolean,
): void {
  const buf = pv.buf;
  natRewrite(pv, words, id * 4, port, isDst, false, false);
  const po = pv.l4off + (isDst ? SCTP_DPORT : SCTP_SPORT);
  const old = (buf[po] << 8) | buf[po + 1];
  if (old !== port || full || ipvs.partial) {
    buf[po] = port >>> 8;
    buf[po + 1] = port & 0xff;
    if (pv.frag === 0) sctpChecksumFill(buf, pv.l4off, pv.l4len);
  }
}

/** The SCTP ops (the kernel's `ip_vs_protocol_sctp`). */
export const sctpProtocol: ProtocolOps = {
  protocol: IPPROTO_SCTP,
  name: 'SCTP',
  numStates: SCTP_S_LAST,
  defaultTimeouts: SCTP_DEFAULT_TIMEOUTS,
  onePacket: false,
  ftpData: false,
  stateName: (s) => SCTP_STATE_NAMES[s] ?? 'ERR!',
  stateByName: (n) => SCTP_STATE_NAMES.indexOf(n.toUpperCase()),
  isActive: sctpIsActive,
  isNewConn(pv) {
    return sctpChunkType(pv.buf, pv.l4off + SCTP_HLEN, pv.l3off + pv.l3len) === SCTP_CID_INIT;
  },
  connSchedule(ipvs, pv) {
    const type = sctpChunkType(pv.buf, pv.l4off + SCTP_HLEN, pv.l3off + pv.l3len);
    // no chunk header: the kernel has no ports for the lookup and drops it
    if (type < 0) return Why.DROP;
    if (type === SCTP_CID_ABORT) return Why.ABORT;
    if (type !== SCTP_CID_INIT && !ipvs.settings.sloppy_sctp) return Why.NOT_INIT;
    return Why.NONE;
  },
  connReuse: (ipvs, id) => ipvs.conns.state[id] === SCTP_S_CLOSED,
  csumCheck(pv, pktFlags) {
    if ((pktFlags & (PKT_CSUM_OK | PKT_CSUM_PARTIAL)) !== 0 || pv.frag !== 0) return true;
    return sctpChecksumOk(pv.buf, pv.l4off, pv.l4len);
  },
  dnatHandler(ipvs, pv, id, full) {
    const c = ipvs.conns;
    sctpNat(ipvs, pv, c.daddr, id, c.dport[id], true, full);
  },
  snatHandler(ipvs, pv, id, full) {
    const c = ipvs.conns;
    sctpNat(ipvs, pv, c.vaddr, id, c.vport[id], false, full);
  },
  stateTransition: sctpStateTransition,
  setState: (ipvs, id, state) =>
    setStateAccounted(ipvs, id, IPPROTO_SCTP, state, sctpIsActive(state)),
  appConnBind,
  appHook: appHookPlain,
  // ip_vs_random_dropentry: a conn still at INIT goes, an established one maybe
  dropEntry: (state) =>
    state === SCTP_S_INIT1 || state === SCTP_S_INIT
      ? DROPENTRY_ALWAYS
      : state === SCTP_S_ESTABLISHED
        ? DROPENTRY_MAYBE
        : DROPENTRY_KEEP,
};
