/**
 * The words of `tsvs trace --explain`: the engine's own reasons (`result.why`, the
 * drop reason) and what the trace saw before and after the call, told in the spec's
 * terms. Per-protocol prose (the TCP table row, the UDP timeout) sits in one
 * explainer per protocol, registered by the protocol's name.
 */
import type { Engine } from '../engine/engine.js';
import type { ConnInfo } from '../engine/conn/info.js';
import { NO_CONN } from '../engine/conn/table.js';
import {
  CONN_F_BYPASS,
  CONN_F_DROUTE,
  CONN_F_LOCALNODE,
  CONN_F_MASQ,
  CONN_F_NOOUTPUT,
  CONN_F_ONE_PACKET,
  CONN_F_TUNNEL,
  SVC_F_PERSISTENT,
  type AddressFamily,
} from '../engine/constants.js';
import {
  DROP_REASON_NAMES,
  DropReason,
  V_ACCEPT,
  V_DROP,
  V_FORWARD,
  V_LOCAL,
  V_REPLY,
} from '../engine/drop.js';
import { protoGet, type ProtocolOps } from '../engine/proto/index.js';
import {
  ROW_ACK,
  ROW_FIN,
  ROW_RST,
  ROW_SYN,
  tcpIsActive,
  tcpRow,
  TCP_STATE_NAMES,
} from '../engine/proto/tcp.js';
import { SCTP_S_ESTABLISHED, sctpIsActive } from '../engine/proto/sctp.js';
import type { Dest } from '../engine/service.js';
import { Why } from '../engine/verdict.js';
import { TCP_FLAG_SYN, tcpFlagsString } from '../wire/tcp.js';
import { SCTP_CID_ABORT, SCTP_CID_INIT, sctpChunkName } from '../wire/sctp.js';
import { DIR_IN, Rule, RULE_TEXT } from './direction.js';

export const METHOD_NAMES = ['Masq', 'Local', 'Tunnel', 'Route', 'Bypass'];
const ROW_NAMES: Record<number, string> = {
  [ROW_SYN]: 'syn',
  [ROW_FIN]: 'fin',
  [ROW_ACK]: 'ack',
  [ROW_RST]: 'rst',
};

/** Why the engine dropped (or answered instead of forwarding), in the spec's words. */
const REASON_TEXT: Readonly<Record<number, string>> = {
  [DropReason.MALFORMED]: 'the packet cannot be parsed (truncated or bad header)',
  [DropReason.FRAGMENT]: 'a later fragment carries no ports, IPVS cannot look it up',
  [DropReason.BAD_CHECKSUM]: 'the L4 checksum is wrong where IPVS must verify it (§6.2)',
  [DropReason.NO_DEST_CONN]:
    "the connection's real server was deleted and expire_nodest_conn=0: dropped silently, the conn stays until it times out (§2.12)",
  [DropReason.DROP_PACKET_DEFENCE]:
    'drop_packet defence: one new connection in drop_rate is dropped (§2.9)',
  [DropReason.NO_DEST_AVAILABLE]:
    'no real server available (none, weight 0 or overloaded): ICMP port unreachable to the client, packet dropped (§2.10)',
  [DropReason.TTL_EXCEEDED]:
    'TTL would reach 0 when forwarded: ICMP time exceeded to the sender (§7.1)',
  [DropReason.FRAG_NEEDED]:
    'too big for the tunnel with DF set: ICMP fragmentation needed with the tunnel MTU (§7.1)',
  [DropReason.HELPER]: 'the application helper refused the packet (§9)',
  [DropReason.NO_CPORT_BAD]: 'no-client-port conn could not take the packet (§4.4)',
  [DropReason.ICMP_UNRELATED_NAT]: 'ICMP error not related to a NAT connection (§8)',
  [DropReason.NAT_ICMP_SEND]:
    'reply from a NAT real server without a connection and nat_icmp_send=1: ICMP port unreachable back to it (§1.3)',
  [DropReason.NO_ROOM]: 'no room to build the packet',
  [DropReason.BACKUP_ONLY]: 'backup_only: this director only takes sync (§13)',
  [DropReason.RESCHEDULE]: 'SYN on a conn about to be reused while conntrack holds it (§2.11)',
  [DropReason.SYNPROXY_BAD_COOKIE]:
    'tsvs SYN proxy: an ACK without a connection whose cookie is not valid (forged, wrong flow or expired)',
  [DropReason.SYNPROXY_HELD]:
    "tsvs SYN proxy: the client's data is held until the real server has answered, then sent",
  [DropReason.SYNPROXY_EARLY_DATA]:
    'tsvs SYN proxy: client data before the real server answered, no room to hold it (the client sends it again)',
  [DropReason.SYNPROXY_BAD_SERVER]:
    "tsvs SYN proxy: a real server's packet that answers nothing the proxy sent",
  [DropReason.SYNPROXY_AUTH]:
    "tsvs SYN proxy: the client's RST proved its address (DR/tunnel service); its next SYN is scheduled",
  [DropReason.SYNPROXY_METHOD]:
    'tsvs SYN proxy: a valid cookie, but the chosen real server is no longer NAT',
  [DropReason.CONN_TABLE_FULL]: 'tsvs: the connection table holds conn_max entries',
};

/** A conn as the trace shows it, taken at one moment. */
export interface ConnSnap {
  info: ConnInfo;
  timeoutMs: number;
  dueMs: number;
  stateNum: number;
  /** Dest id (-1: none), kept so a conn freed during its packet still names it. */
  destId: number;
}

export interface ExpirySnap extends ConnSnap {
  deferred: boolean;
}

/** What is known about a packet before the engine sees it. */
export interface Before {
  n: number;
  tsNs: bigint;
  dir: number;
  rule: number;
  mark: number;
  text: string;
  parsed: boolean;
  af: AddressFamily;
  proto: number;
  tcpFlags: number;
  src: string;
  dst: string;
  /** For ICMP errors: the quoted packet's source and destination. */
  quoteSrc: string;
  quoteDst: string;
  sport: number;
  dport: number;
  daddr: Uint32Array;
  id: number;
  conn: ConnSnap | null;
  templateAssured: boolean;
  /** The protocol's ops (null: not TCP/UDP/SCTP, or not parsed). */
  pp: ProtocolOps | null;
  /** The packet opens a new connection (a TCP SYN, an SCTP INIT). */
  newConn: boolean;
  /** SCTP: the first chunk's type and the state table's event of the packet; else -1. */
  chunk: number;
  event: number;
}

/** What the engine did with a packet, as the trace reads it after the call. */
export interface Outcome {
  /** Conn matched or created (NO_CONN: none). */
  id: number;
  isNew: boolean;
  /** The conn found before the call was expired by it (reuse, real server gone). */
  reused: boolean;
  /** The conn after the call, or as it was when freed during the call (one-packet). */
  aft: ConnSnap | null;
  stateBefore: string;
  stateNumBefore: number;
  tmplId: number;
  tmplNew: boolean;
  tmplSnap: ConnSnap | null;
  /** DropReason the engine counted (DROP, and the original of a REPLY); 0 none. */
  reason: number;
  /** The engine's reason for the verdict (Why). */
  why: number;
  /** Why no connection took an accepted packet ('' when one did). */
  whyNot: string;
}

export function epText(af: AddressFamily, addr: string, port: number): string {
  return af === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** Why no connection took an ACCEPTed packet, from the engine's reason (`result.why`). */
export function whyNotText(why: number, b: Before): string {
  if (!b.parsed) return 'not parsed';
  const icmp = why === Why.ICMP_UNRELATED || why === Why.ICMP_NO_CONN;
  if (b.dir !== DIR_IN) {
    if (icmp) return 'ICMP not about a connection: passed on (§8.2)';
    return 'no connection for this reply: passed on (§1.3)';
  }
  switch (why) {
    case Why.ICMP_UNRELATED:
      return 'ICMP that is not an error about TCP/UDP: not IPVS traffic (§1.2, §8.1)';
    case Why.ICMP_NO_CONN:
      return 'ICMP error not about a connection: passed on (§8.1)';
    case Why.NOT_IPVS:
      return 'not TCP/UDP/SCTP: not IPVS traffic (§1.2)';
    case Why.BACKUP_ONLY:
      return 'backup_only with a backup sync daemon: nothing is forwarded (§12.5)';
    case Why.RST:
      return 'RST never creates a connection (§2.7)';
    case Why.NOT_SYN:
      return 'no SYN and sloppy_tcp=0: not scheduled (§2.7)';
    case Why.ABORT:
      return 'an SCTP ABORT never creates a connection (sctp_conn_schedule)';
    case Why.NOT_INIT:
      return 'first chunk not INIT and sloppy_sctp=0: not scheduled (sctp_conn_schedule)';
    case Why.IPV6_FRAGMENT:
      return 'IPv6 fragment: never scheduled (§1.2)';
    case Why.NO_SERVICE:
      return `no service for ${b.dst} (§2.7)`;
    case Why.FTP_DATA:
      return 'client port 20 (FTP data) is never scheduled (§2.8)';
    case Why.LOCAL_REPLY:
      return 'reply from a local real server: its connection exists reversed (§2.8)';
    case Why.FTP_OTHER_PORT:
      return 'other port of an FTP service: not IPVS traffic (§2.10)';
    default:
      return 'not scheduled (§2.8)';
  }
}

/** What the trace says of one protocol. */
interface ProtoExplainer {
  /** The packet in a trace line: "TCP a:p > b:q [S] len=n" (`b.src`, `b.dst` set). */
  packet(b: Before, payloadLen: number): string;
  /** What opened the connection. */
  lead(b: Before): string;
  /** The state change of the packet, and what it did to the dest's counters. */
  state(
    out: string[],
    e: Engine,
    b: Before,
    dir: number,
    o: Outcome,
    i: ConnInfo,
    dest: Dest | null,
  ): void;
}

const TCP_EXPLAINER: ProtoExplainer = {
  packet: (b, n) =>
    `TCP ${b.src} > ${b.dst} [${tcpFlagsString(b.tcpFlags)}]${n > 0 ? ` len=${n}` : ''}`,
  lead: (b) =>
    b.tcpFlags & TCP_FLAG_SYN
      ? 'SYN'
      : `[${tcpFlagsString(b.tcpFlags)}] without SYN (sloppy_tcp=1)`,
  state(out, e, b, dir, o, i, dest) {
    const { isNew, aft, stateNumBefore, stateBefore, tmplId } = o;
    if (aft === null) return;
    const flags = isNew ? aft.info.flags : b.conn !== null ? b.conn.info.flags : aft.info.flags;
    let block = dir === DIR_IN ? 'INPUT' : 'OUTPUT';
    if (dir === DIR_IN && flags & CONN_F_NOOUTPUT) block = 'INPUT-ONLY';
    const row = tcpRow(b.tcpFlags);
    const table = e.secureTcpActive ? ' of the secure_tcp table' : '';
    const where =
      row < 0
        ? 'no RST/SYN/FIN/ACK flag: CLOSE'
        : `${block} ${ROW_NAMES[row]} row${table}${dir !== DIR_IN && flags & CONN_F_NOOUTPUT ? ', NOOUTPUT cleared' : ''}`;
    out.push(
      `${stateBefore} → ${i.state} (${where}, §2.2–2.3); timeout ${seconds(aft.timeoutMs)} s (§2.1)`,
    );
    const stateNum = aft.stateNum;
    const wasActive = tcpIsActive(isNew ? 0 : stateNumBefore);
    if (dest && wasActive !== tcpIsActive(stateNum)) {
      out.push(
        `now counted in ${tcpIsActive(stateNum) ? 'activeconns' : 'inactconns'} of ${dest.toString()} (§2.5)`,
      );
    }
    if (TCP_STATE_NAMES[stateNum] === 'ESTABLISHED' && tmplId >= 0 && !b.templateAssured && !isNew)
      out.push(`template ${tmplId} becomes ASSURED (§4.5)`);
  },
};

const UDP_EXPLAINER: ProtoExplainer = {
  packet: (b, n) => `UDP ${b.src} > ${b.dst} len=${n}`,
  lead: () => 'UDP',
  state(out, _e, b, dir, o) {
    if (o.aft === null) return;
    out.push(
      `UDP: every packet in either direction sets the udp timeout, ${seconds(o.aft.timeoutMs)} s (§3)`,
    );
    if (dir !== DIR_IN && o.tmplId >= 0 && !b.templateAssured)
      out.push(`a reply: template ${o.tmplId} becomes ASSURED (§3)`);
  },
};

/** Rows of the SCTP table by event (the kernel's comments: d, i, i_a …). */
const SCTP_EVENT_NAMES = [
  'data',
  'init',
  'init_ack',
  'cookie_echo',
  'cookie_ack',
  'shutdown',
  'shutdown_ack',
  'shutdown_complete',
  'error',
  'abort',
];

const SCTP_EXPLAINER: ProtoExplainer = {
  packet: (b, n) =>
    `SCTP ${b.src} > ${b.dst} [${b.chunk < 0 ? 'no chunk' : sctpChunkName(b.chunk)}] len=${n}`,
  lead: (b) =>
    b.chunk === SCTP_CID_INIT ? 'INIT' : `${sctpChunkName(b.chunk)} without INIT (sloppy_sctp=1)`,
  state(out, _e, b, dir, o, i, dest) {
    const { isNew, aft, stateNumBefore, stateBefore, tmplId } = o;
    if (aft === null) return;
    if (b.event < 0) {
      out.push('no chunk header: state and timeout unchanged (set_sctp_state)');
      return;
    }
    const flags = isNew ? aft.info.flags : b.conn !== null ? b.conn.info.flags : aft.info.flags;
    let block = dir === DIR_IN ? 'INPUT' : 'OUTPUT';
    if (dir === DIR_IN && flags & CONN_F_NOOUTPUT) block = 'INPUT-ONLY';
    const abort = b.event === 9 && b.chunk !== SCTP_CID_ABORT ? ', ABORT bundled after it' : '';
    out.push(
      `${stateBefore} → ${i.state} (${block} ${SCTP_EVENT_NAMES[b.event]} row of the SCTP table${abort}); timeout ${seconds(aft.timeoutMs)} s (sctp_timeouts)`,
    );
    // a new conn is counted active when it is bound to its dest (ip_vs_bind_dest)
    const was = isNew || sctpIsActive(stateNumBefore);
    if (dest && was !== sctpIsActive(aft.stateNum)) {
      out.push(
        `now counted in ${sctpIsActive(aft.stateNum) ? 'activeconns' : 'inactconns'} of ${dest.toString()} (ESTABLISHED alone is active)`,
      );
    }
    if (aft.stateNum === SCTP_S_ESTABLISHED && tmplId >= 0 && !b.templateAssured && !isNew)
      out.push(`template ${tmplId} becomes ASSURED (§4.5)`);
  },
};

/** One explainer per protocol the engine registers, by its name. */
export const EXPLAINERS: Readonly<Record<string, ProtoExplainer>> = {
  TCP: TCP_EXPLAINER,
  UDP: UDP_EXPLAINER,
  SCTP: SCTP_EXPLAINER,
};

/** The protocol's ops and explainer of a packet's protocol number, if IPVS handles it. */
export function protoOf(p: number): ProtocolOps | null {
  const pp = protoGet(p);
  return pp !== null && EXPLAINERS[pp.name] !== undefined ? pp : null;
}

/** The protocol as trace lines name it. */
export function protoText(p: number): string {
  const pp = protoGet(p);
  return pp !== null ? pp.name : p === 0 ? 'IP' : `proto ${p}`;
}

/** The `--explain` line of a packet: the engine's reasons in the spec's words. */
export function explainText(e: Engine, b: Before, dir: number, v: number, o: Outcome): string {
  const { id, isNew, reused, aft, tmplId, tmplNew, tmplSnap } = o;
  const { reason, whyNot } = o;
  const out: string[] = [];
  const ruleNote =
    b.rule === Rule.SERVICE ||
    b.rule === Rule.NAT_REAL_SERVER ||
    b.rule === Rule.CONN_IN ||
    b.rule === Rule.CONN_OUT
      ? ''
      : `${dir === DIR_IN ? 'in' : 'out'} path: ${RULE_TEXT[b.rule]}`;
  if (ruleNote !== '') out.push(ruleNote);
  if (reused && b.conn !== null) {
    out.push(
      b.newConn
        ? `SYN on conn ${b.id} in ${b.conn.info.state}: the old connection is expired and the SYN scheduled afresh (conn_reuse_mode, §2.11)`
        : `conn ${b.id}'s real server is gone: expired (expire_nodest_conn=1, §2.12)`,
    );
  }
  const did = aft !== null ? aft.destId : -1;
  const dest = did >= 0 ? e.destById[did] : null;
  if (isNew && aft !== null && dest) {
    const svc = dest.svc;
    const lead = b.pp !== null ? EXPLAINERS[b.pp.name].lead(b) : 'ICMP error (schedule_icmp=1)';
    const rs = `real server ${dest.toString()} (${METHOD_NAMES[dest.fwd]})`;
    if (svc.flags & SVC_F_PERSISTENT && tmplSnap !== null) {
      const client = epText(tmplSnap.info.af, tmplSnap.info.caddr, 0).replace(/:0$/, '');
      out.push(
        tmplNew
          ? `${lead}, no connection, persistent service ${svc.toString()} ${svc.schedName}: no template for client ${client} → ${rs}; new template ${tmplId}, timeout ${seconds(tmplSnap.timeoutMs)} s (§4.5)`
          : `${lead}, no connection, persistent service ${svc.toString()}: template ${tmplId} for client ${client} → same ${rs}; template re-armed, ${seconds(tmplSnap.timeoutMs)} s (§4.5)`,
      );
    } else {
      out.push(`${lead}, no connection, service ${svc.toString()} ${svc.schedName} → ${rs}`);
    }
    if (aft.info.flags & CONN_F_ONE_PACKET)
      out.push('one-packet scheduling: freed right after this packet (§3)');
  } else if (isNew && aft !== null) {
    out.push(
      'no real server available and cache_bypass=1 on a fwmark service: bypass connection to the original destination (§2.10)',
    );
  } else if (id !== NO_CONN && aft !== null) {
    const i = aft.info;
    out.push(`conn ${id}: client ${epText(i.af, i.caddr, i.cport)}, real server ${epTextLoose(i)}`);
  }
  // state
  if (aft !== null && (v !== V_DROP || isNew)) {
    const i = aft.info;
    const pp = protoGet(i.protocol);
    if (pp !== null) EXPLAINERS[pp.name].state(out, e, b, dir, o, i, dest);
  }
  // what was sent
  const method = aft === null ? -1 : aft.info.flags & 7;
  if (v === V_FORWARD) {
    const i = aft?.info;
    if (dir !== DIR_IN) {
      out.push(
        `NAT reply: source rewritten to ${i ? epText(i.af, i.vaddr, i.vport) : 'the VIP'}, checksums updated (§1.3, §6)`,
      );
    } else if (method === CONN_F_MASQ) {
      out.push(
        `NAT: destination rewritten to ${i ? epTextLoose(i) : 'the real server'}, TTL − 1, checksums updated (§6, §7.2)`,
      );
    } else if (method === CONN_F_DROUTE) {
      out.push("direct routing: sent unchanged but for TTL − 1 to the real server's MAC (§7.3)");
    } else if (method === CONN_F_TUNNEL) {
      out.push('tunnelling: TTL − 1, encapsulated towards the real server (§7.4)');
    } else if (method === CONN_F_BYPASS) {
      out.push('bypass: forwarded to the original destination (§2.10, §7.5)');
    }
  } else if (v === V_ACCEPT && id !== NO_CONN && dir !== DIR_IN) {
    out.push(
      `reply of a ${METHOD_NAMES[method] ?? ''} connection: the state follows it, the packet passes unchanged (§1.3)`,
    );
  } else if (v === V_LOCAL || (method === CONN_F_LOCALNODE && v !== V_DROP)) {
    out.push('local real server: delivered to the local stack (§7.5)');
  }
  if ((v === V_DROP || v === V_REPLY) && reason > 0)
    out.push(REASON_TEXT[reason] ?? DROP_REASON_NAMES[reason]);
  if (whyNot !== '') out.push(whyNot);
  return out.join('; ');
}

/** State a conn is created in (§5.1): TCP and SCTP NONE, UDP's only state. */
export function initialState(i: ConnInfo): string {
  if (i.template) return 'NONE';
  const pp = protoGet(i.protocol);
  return pp !== null ? pp.stateName(0) : 'NONE';
}

/** The real-server end of a conn ("-" for a bypass conn without one). */
export function epTextLoose(i: ConnInfo): string {
  if ((i.flags & 7) === CONN_F_BYPASS) return '-';
  const v6 = i.daddr.includes(':');
  return v6 ? `[${i.daddr}]:${i.dport}` : `${i.daddr}:${i.dport}`;
}
