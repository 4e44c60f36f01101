/**
 * The dashboard's connection-table view: a search over the engine's table done on the
 * server, a page at a time. The table can hold millions of entries, so nothing is
 * formatted until it is on the page: the query is parsed once into tests on the
 * table's typed arrays (addresses as words, ports, protocol, state code, flags), the
 * scan walks the ids in ascending order, and a page ends with the id to continue
 * after (a cursor that stays valid while entries come and go, as reading
 * /proc/net/ip_vs_conn does).
 *
 * Query words (all must match; case does not matter):
 * - `tcp`, `udp`, `sctp` — the protocol;
 * - a state (`established`, `syn_recv`, `time_wait`, `udp`…) — as `ipvsadm -L -c` names it;
 * - `template`, `sync`, `local` — templates, conns learnt from the sync master, or not;
 * - an address, `ADDR:PORT` (`[v6]:PORT`), `ADDR/LEN` or `:PORT` — matching the client,
 *   the virtual or the real-server side;
 * - `client=…`, `vip=…`, `server=…` (or `dest=`), `port=N`, `state=…`, `proto=…` — one side only.
 *
 * @module
 */
import type { Engine } from '../engine/engine.js';
import { formatAddr, parseAddr } from '../engine/addr.js';
import { CONN_F_SYNC, CONN_F_TEMPLATE, type AddressFamily } from '../engine/constants.js';
import { protoName } from '../control/model.js';

/** Sides of a connection an address or port test looks at. */
const CLIENT = 1;
const VIRTUAL = 2;
const SERVER = 4;
const ANY = CLIENT | VIRTUAL | SERVER;

/** One parsed word of a query. */
type Term =
  | { kind: 'proto'; proto: number }
  | { kind: 'state'; name: string }
  | { kind: 'flag'; mask: number; set: boolean }
  | {
      kind: 'addr';
      sides: number;
      af: AddressFamily;
      words: Uint32Array;
      /** Prefix length in bits (32/128: the whole address). */
      bits: number;
      /** Port, or -1 for any. */
      port: number;
    }
  | { kind: 'port'; sides: number; port: number };

/** A parsed query. */
export interface ConnQuery {
  readonly text: string;
  readonly terms: readonly Term[];
}

/** A connection on a page, as `ipvsadm -L -c` shows it. */
export interface ConnRow {
  id: number;
  proto: string;
  client: string;
  virtual: string;
  server: string;
  state: string;
  /** Seconds until expiry. */
  expires: number;
  template: boolean;
  origin: 'LOCAL' | 'SYNC';
}

/** A page of matches. */
export interface ConnPage {
  /** Entries in the table. */
  size: number;
  /** Entries that match the query (the whole table was scanned). */
  matches: number;
  rows: ConnRow[];
  /** Pass as `after` for the next page; null on the last page. */
  next: number | null;
}

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const SIDES: Record<string, number> = {
  client: CLIENT,
  vip: VIRTUAL,
  virtual: VIRTUAL,
  server: SERVER,
  dest: SERVER,
  rip: SERVER,
};

/** A query that cannot be understood. */
export class ConnQueryError extends Error {
  override readonly name = 'ConnQueryError';
}

function port(text: string, word: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw new ConnQueryError(`"${word}": ${text} is not a port`);
  return Number(text);
}

/** An address word: `ADDR`, `ADDR:PORT`, `[V6]`, `[V6]:PORT`, `ADDR/LEN`, `:PORT`. */
function addrTerm(text: string, sides: number, word: string): Term | null {
  let m = /^:(\d+)$/.exec(text);
  if (m) return { kind: 'port', sides, port: port(m[1], word) };
  let host = text;
  let p = -1;
  let bits = -1;
  m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (m) {
    host = m[1];
    if (m[2] !== undefined) p = port(m[2], word);
  } else if ((m = /^([0-9.]+):(\d+)$/.exec(text))) {
    host = m[1];
    p = port(m[2], word);
  }
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const len = host.slice(slash + 1);
    host = host.slice(0, slash);
    if (!/^\d{1,3}$/.test(len)) throw new ConnQueryError(`"${word}": bad prefix length`);
    bits = Number(len);
  }
  const a = parseAddr(host);
  if (!a) return null;
  const max = a.af === 4 ? 32 : 128;
  if (bits > max) throw new ConnQueryError(`"${word}": prefix longer than ${max} bits`);
  return { kind: 'addr', sides, af: a.af, words: a.words, bits: bits < 0 ? max : bits, port: p };
}

/** Parse a query (see the module's comment); throws {@link ConnQueryError}. */
export function parseConnQuery(text: string): ConnQuery {
  const terms: Term[] = [];
  if (text.length > 1000) throw new ConnQueryError('query too long');
  for (const word of text.trim().split(/\s+/)) {
    if (word === '') continue;
    const lower = word.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq > 0) {
      const k = lower.slice(0, eq);
      const v = word.slice(eq + 1);
      if (k in SIDES) {
        const t = addrTerm(v, SIDES[k], word) ?? addrTerm(`:${v}`, SIDES[k], word);
        if (!t) throw new ConnQueryError(`"${word}": not an address or port`);
        terms.push(t);
      } else if (k === 'port') terms.push({ kind: 'port', sides: ANY, port: port(v, word) });
      else if (k === 'state') terms.push({ kind: 'state', name: v.toUpperCase() });
      else if (k === 'proto' || k === 'protocol') {
        const p = PROTOS[v.toLowerCase()];
        if (p === undefined) throw new ConnQueryError(`"${word}": unknown protocol`);
        terms.push({ kind: 'proto', proto: p });
      } else throw new ConnQueryError(`"${word}": unknown key ${k}`);
      continue;
    }
    if (lower in PROTOS) {
      terms.push({ kind: 'proto', proto: PROTOS[lower] });
      continue;
    }
    if (lower === 'template' || lower === 'templates') {
      terms.push({ kind: 'flag', mask: CONN_F_TEMPLATE, set: true });
      continue;
    }
    if (lower === 'sync' || lower === 'local') {
      terms.push({ kind: 'flag', mask: CONN_F_SYNC, set: lower === 'sync' });
      continue;
    }
    const a = addrTerm(word, ANY, word);
    if (a) {
      terms.push(a);
      continue;
    }
    if (/^[a-z_]+$/i.test(word)) {
      terms.push({ kind: 'state', name: word.toUpperCase() });
      continue;
    }
    throw new ConnQueryError(`"${word}": not a protocol, state, address or port`);
  }
  return { text, terms };
}

/** Whether `n` bits of the address at `w[o..]` equal those of `want`. */
function prefixEqual(w: Uint32Array, o: number, want: Uint32Array, bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if ((w[o + i] & mask) >>> 0 !== (want[i] & mask) >>> 0) return false;
  }
  return true;
}

function matches(e: Engine, id: number, terms: readonly Term[]): boolean {
  const c = e.conns;
  for (const t of terms) {
    switch (t.kind) {
      case 'proto':
        if (c.proto[id] !== t.proto) return false;
        break;
      case 'state':
        if (e.stateName(id) !== t.name) return false;
        break;
      case 'flag':
        if (((c.flags[id] & t.mask) !== 0) !== t.set) return false;
        break;
      case 'port':
        if (!(
          (t.sides & CLIENT && c.cport[id] === t.port) ||
          (t.sides & VIRTUAL && c.vport[id] === t.port) ||
          (t.sides & SERVER && c.dport[id] === t.port)
        ))
          return false;
        break;
      case 'addr': {
        const o = id * 4;
        const af = c.af[id];
        const did = c.dest[id];
        const daf = did >= 0 ? (e.destById[did]?.af ?? af) : af;
        const hit =
          (t.sides & CLIENT &&
            af === t.af &&
            (t.port < 0 || c.cport[id] === t.port) &&
            prefixEqual(c.caddr, o, t.words, t.bits)) ||
          (t.sides & VIRTUAL &&
            af === t.af &&
            (t.port < 0 || c.vport[id] === t.port) &&
            prefixEqual(c.vaddr, o, t.words, t.bits)) ||
          (t.sides & SERVER &&
            daf === t.af &&
            (t.port < 0 || c.dport[id] === t.port) &&
            prefixEqual(c.daddr, o, t.words, t.bits));
        if (!hit) return false;
        break;
      }
    }
  }
  return true;
}

function hp(af: number, w: Uint32Array, o: number, p: number): string {
  const a = formatAddr(af as AddressFamily, w, o);
  return af === 6 ? `[${a}]:${p}` : `${a}:${p}`;
}

function row(e: Engine, id: number): ConnRow {
  const c = e.conns;
  const o = id * 4;
  const af = c.af[id];
  const did = c.dest[id];
  const daf = did >= 0 ? (e.destById[did]?.af ?? af) : af;
  const flags = c.flags[id];
  const template = (flags & CONN_F_TEMPLATE) !== 0;
  return {
    id,
    proto: c.proto[id] === 0 && template ? 'IP' : protoName(c.proto[id]),
    client: hp(af, c.caddr, o, c.cport[id]),
    // a fwmark template keeps the mark in the first word of vaddr
    virtual: c.proto[id] === 0 && template ? `FWM ${c.vaddr[o]}` : hp(af, c.vaddr, o, c.vport[id]),
    server: hp(daf, c.daddr, o, c.dport[id]),
    state: e.stateName(id),
    expires: Math.max(0, Math.ceil((c.expires[id] - e.now) / 1000)),
    template,
    origin: flags & CONN_F_SYNC ? 'SYNC' : 'LOCAL',
  };
}

/**
 * A search in progress. The table is scanned in slices ({@link step}) so that a search
 * of a big table does not hold up the packets between them: the ids are those live when
 * the search began, each read when its slice is scanned (the view is not atomic, as
 * reading /proc/net/ip_vs_conn is not).
 */
export class ConnScan {
  private readonly ids: Generator<number>;
  private readonly rows: ConnRow[] = [];
  private readonly limit: number;
  private count = 0;
  private next: number | null = null;
  /** Whether the whole table was scanned. */
  done = false;

  constructor(
    private readonly e: Engine,
    private readonly q: ConnQuery,
    private readonly after = -1,
    limit = 50,
  ) {
    this.limit = Math.max(1, Math.min(500, Math.floor(limit) || 1));
    this.ids = e.conns.ids();
  }

  /** Scan up to `n` more entries; true once the whole table was scanned. */
  step(n: number): boolean {
    const { e, q, rows } = this;
    for (let k = 0; k < n; k++) {
      const it = this.ids.next();
      if (it.done) {
        this.done = true;
        return true;
      }
      const id = it.value;
      if (!matches(e, id, q.terms)) continue;
      this.count++;
      if (id <= this.after) continue;
      if (rows.length < this.limit) rows.push(row(e, id));
      else if (this.next === null) this.next = rows[rows.length - 1].id;
    }
    return false;
  }

  /** The page found so far (the whole answer once {@link done}). */
  page(): ConnPage {
    return { size: this.e.conns.count, matches: this.count, rows: this.rows, next: this.next };
  }
}

/**
 * One page of the connections matching `q`, starting after id `after` (-1: from the
 * start), at most `limit` rows (1…500). The whole table is scanned to count the
 * matches, in one go: see {@link searchConnsSliced} for big tables.
 */
export function searchConns(e: Engine, q: ConnQuery, after = -1, limit = 50): ConnPage {
  const s = new ConnScan(e, q, after, limit);
  s.step(Infinity);
  return s.page();
}

/**
 * {@link searchConns} in slices of `slice` entries with the event loop free between
 * them (a million entries take a few hundred ms of scanning; packets must not wait
 * for all of it).
 */
export async function searchConnsSliced(
  e: Engine,
  q: ConnQuery,
  after = -1,
  limit = 50,
  slice = 32_768,
): Promise<ConnPage> {
  const s = new ConnScan(e, q, after, limit);
  while (!s.step(slice)) await new Promise((r) => setImmediate(r));
  return s.page();
}
