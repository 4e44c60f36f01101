/**
 * The `net.ipv4.vs.*` settings of spec §13 with their kernel defaults and validation
 * ranges. One plain object per engine; the control layer reads and writes it by the
 * kernel's names (`tsvs sysctl net.ipv4.vs.secure_tcp=1`).
 */

export interface Settings {
  amemthresh: number;
  am_droprate: number;
  drop_entry: number;
  drop_packet: number;
  conntrack: number;
  secure_tcp: number;
  snat_reroute: number;
  sync_version: number;
  sync_ports: number;
  sync_persist_mode: number;
  sync_qlen_max: number;
  sync_sock_size: number;
  cache_bypass: number;
  expire_nodest_conn: number;
  sloppy_tcp: number;
  sloppy_sctp: number;
  expire_quiescent_template: number;
  /** "threshold period" pair. */
  sync_threshold: [number, number];
  sync_refresh_period: number;
  sync_retries: number;
  nat_icmp_send: number;
  pmtu_disc: number;
  backup_only: number;
  conn_reuse_mode: number;
  schedule_icmp: number;
  ignore_tunneled: number;
  run_estimation: number;
  est_nice: number;
  debug_level: number;
  lblc_expiration: number;
  lblcr_expiration: number;
  /**
   * tsvs's own (no kernel sysctl): 1 puts every TCP service behind the SYN proxy
   * (synproxy.ts), as the per-service `--synproxy` does for one. Off by default.
   */
  synproxy: number;
  /**
   * tsvs's own: the most connections (templates included) the table holds; a new
   * one beyond it is dropped as `conn-table-full`. 0 = no limit (the kernel has none).
   */
  conn_max: number;
}

export function defaultSettings(): Settings {
  return {
    amemthresh: 1024,
    am_droprate: 10,
    drop_entry: 0,
    drop_packet: 0,
    conntrack: 0,
    secure_tcp: 0,
    snat_reroute: 1,
    sync_version: 1,
    sync_ports: 1,
    sync_persist_mode: 0,
    sync_qlen_max: 1024,
    sync_sock_size: 0,
    cache_bypass: 0,
    expire_nodest_conn: 0,
    sloppy_tcp: 0,
    sloppy_sctp: 0,
    expire_quiescent_template: 0,
    sync_threshold: [3, 50],
    sync_refresh_period: 0,
    sync_retries: 0,
    nat_icmp_send: 0,
    pmtu_disc: 1,
    backup_only: 0,
    conn_reuse_mode: 1,
    schedule_icmp: 0,
    ignore_tunneled: 0,
    run_estimation: 1,
    est_nice: 0,
    debug_level: 0,
    lblc_expiration: 86400,
    lblcr_expiration: 86400,
    synproxy: 0,
    conn_max: 0,
  };
}

type Range = [number, number];
const INT_MAX = 2147483647;
/** Accepted values per setting (kernel proc handlers); anything else is EINVAL. */
const RANGES: Record<Exclude<keyof Settings, 'sync_threshold'>, Range> = {
  amemthresh: [0, INT_MAX],
  am_droprate: [0, INT_MAX],
  drop_entry: [0, 3],
  drop_packet: [0, 3],
  conntrack: [0, 1],
  secure_tcp: [0, 3],
  snat_reroute: [0, INT_MAX],
  sync_version: [0, 1],
  sync_ports: [1, 64],
  sync_persist_mode: [0, INT_MAX],
  sync_qlen_max: [0, INT_MAX],
  sync_sock_size: [0, INT_MAX],
  cache_bypass: [0, INT_MAX],
  expire_nodest_conn: [0, INT_MAX],
  sloppy_tcp: [0, INT_MAX],
  sloppy_sctp: [0, INT_MAX],
  expire_quiescent_template: [0, INT_MAX],
  sync_refresh_period: [0, INT_MAX],
  sync_retries: [0, 3],
  nat_icmp_send: [0, INT_MAX],
  pmtu_disc: [0, INT_MAX],
  backup_only: [0, INT_MAX],
  conn_reuse_mode: [0, INT_MAX],
  schedule_icmp: [0, INT_MAX],
  ignore_tunneled: [0, INT_MAX],
  run_estimation: [0, 1],
  est_nice: [-20, 19],
  debug_level: [0, 12],
  lblc_expiration: [0, INT_MAX],
  lblcr_expiration: [0, INT_MAX],
  synproxy: [0, 1],
  conn_max: [0, INT_MAX],
};

export const SETTING_NAMES = Object.keys(defaultSettings()) as (keyof Settings)[];

/**
 * Set one setting from its textual value as `sysctl -w` would. Returns an error
 * message (EINVAL semantics) or null; the settings are unchanged on error.
 */
export function setSetting(s: Settings, name: string, value: string): string | null {
  if (!(SETTING_NAMES as string[]).includes(name)) return `unknown setting '${name}'`;
  if (name === 'sync_threshold') {
    const parts = value.trim().split(/\s+/);
    if (parts.length !== 2 || !parts.every((p) => /^-?\d+$/.test(p))) return 'Invalid argument';
    const t = Number(parts[0]);
    const p = Number(parts[1]);
    if (t < 0 || p < 0 || (p !== 0 && t >= p)) return 'Invalid argument';
    s.sync_threshold = [t, p];
    return null;
  }
  if (!/^\s*-?\d+\s*$/.test(value)) return 'Invalid argument';
  const v = Number(value);
  const [lo, hi] = RANGES[name as Exclude<keyof Settings, 'sync_threshold'>];
  if (v < lo || v > hi) return 'Invalid argument';
  if (name === 'sync_ports' && (v & (v - 1)) !== 0) return 'Invalid argument';
  (s as unknown as Record<string, number>)[name] = v;
  return null;
}

export function getSetting(s: Settings, name: keyof Settings): string {
  const v = s[name];
  return Array.isArray(v) ? `${v[0]}\t${v[1]}` : String(v);
}
