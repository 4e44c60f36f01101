/**
 * Every keyword keepalived 2.2 registers for its LVS part (check_parser.c, the LVS
 * lines of global_parser.c) and every top-level block, with what tsvs does with it:
 * `supported` (keepalived's semantics), `refused` (a warning naming the keyword and
 * line says why, and the keyword has no effect) or `keepalived` (keepalived's own
 * business — VRRP, BFD, e-mail, its processes — noted and left to keepalived, which
 * runs beside tsvs for them). The block parsers consult this table, so no keyword is
 * ever passed over in silence; docs/keepalived.md is the same table for operators
 * (a test keeps the two in step). The checkers' own keywords are the checker
 * parser's (`checker.ts`).
 */

export type KeywordStatus = 'supported' | 'refused' | 'keepalived';

export interface KeywordInfo {
  status: KeywordStatus;
  /** For `refused` and `keepalived`: why, in a few words (ends the log line). */
  why?: string;
}

const S: KeywordInfo = { status: 'supported' };
const NO_MAIL: KeywordInfo = {
  status: 'refused',
  why: 'tsvs sends no e-mail; use notify scripts or the notify FIFO',
};
const NO_SNMP: KeywordInfo = {
  status: 'refused',
  why: 'tsvs has no SNMP agent; its figures are on the Prometheus endpoint',
};
const PROCESS: KeywordInfo = {
  status: 'refused',
  why: "tsvs runs the checks in its daemon, not in a checker process of keepalived's; set its priority and affinity with systemd",
};
const NETLINK: KeywordInfo = {
  status: 'refused',
  why: 'tsvs does not talk to the kernel IPVS over netlink, so there is no buffer to size',
};
const NFT: KeywordInfo = {
  status: 'refused',
  why: 'tsvs programs each address of a virtual_server_group as its own service and sets no nftables fwmarks',
};
const OWN = (what: string): KeywordInfo => ({ status: 'keepalived', why: what });

/** Top-level blocks and keywords. */
export const ROOT_KEYWORDS: Readonly<Record<string, KeywordInfo>> = {
  global_defs: S,
  virtual_server: S,
  virtual_server_group: S,
  SSL: S,
  track_file: S,
  // keepalived's deprecated synonym of track_file, usable by FILE_CHECK too
  vrrp_track_file: S,
  include: {
    status: 'refused',
    why: 'tsvs reads one file; put the LVS configuration in it',
  },
  net_namespace_ipvs: {
    status: 'refused',
    why: 'run the tsvs daemon in the namespace instead (tsvs daemon --netns)',
  },
  vrrp_instance: OWN('VRRP'),
  vrrp_script: OWN('VRRP'),
  vrrp_sync_group: OWN('VRRP'),
  vrrp_track_process: OWN('VRRP'),
  static_ipaddress: OWN('addresses'),
  static_routes: OWN('routes'),
  static_rules: OWN('routing rules'),
  garp_group: OWN('VRRP'),
  // its neighbor_ip and source_ip are read for BFD_CHECK (checker-resolve.ts)
  bfd_instance: OWN("BFD; a BFD_CHECK follows its session in FRR's bfdd"),
  track_group: OWN('BFD'),
  linkbeat_use_polling: OWN('VRRP'),
  linkbeat_interfaces: OWN('VRRP'),
  interface_up_down_delays: OWN('VRRP'),
  net_namespace: OWN('its processes'),
  namespace_with_ipsets: OWN('VRRP'),
  use_pid_dir: OWN('its processes'),
  instance: OWN('its processes'),
  child_wait_time: OWN('its processes'),
};

/** The LVS keywords of global_defs; every other global_defs keyword is keepalived's own. */
export const GLOBAL_KEYWORDS: Readonly<Record<string, KeywordInfo>> = {
  lvs_timeouts: S,
  lvs_flush: S,
  lvs_flush_on_stop: S,
  lvs_flush_onstop: S,
  lvs_sync_daemon: S,
  lvs_notify_fifo: S,
  lvs_notify_fifo_script: S,
  notify_fifo: S,
  notify_fifo_script: S,
  rs_init_notifies: S,
  checker_log_all_failures: S,
  script_user: S,
  enable_script_security: S,
  checker_process_name: PROCESS,
  lvs_process_name: PROCESS,
  checker_priority: PROCESS,
  checker_no_swap: PROCESS,
  checker_rt_priority: PROCESS,
  checker_cpu_affinity: PROCESS,
  checker_rlimit_rttime: PROCESS,
  checker_rlimit_rtime: PROCESS,
  smtp_alert_checker: NO_MAIL,
  no_checker_emails: NO_MAIL,
  enable_snmp_checker: NO_SNMP,
  lvs_netlink_cmd_rcv_bufs: NETLINK,
  lvs_netlink_cmd_rcv_bufs_force: NETLINK,
  lvs_netlink_monitor_rcv_bufs: NETLINK,
  lvs_netlink_monitor_rcv_bufs_force: NETLINK,
  nftables_ipvs: NFT,
  nftables_ipvs_priority: NFT,
  nftables_ipvs_start_fwmark: NFT,
};

/** virtual_server keywords (its real_server blocks have their own table). */
export const VS_KEYWORDS: Readonly<Record<string, KeywordInfo>> = {
  ip_family: S,
  retry: S,
  delay_before_retry: S,
  warmup: S,
  connect_timeout: S,
  delay_loop: S,
  inhibit_on_failure: S,
  lb_algo: S,
  lvs_sched: S,
  hashed: S,
  ops: S,
  'flag-1': S,
  'flag-2': S,
  'flag-3': S,
  'sh-port': S,
  'sh-fallback': S,
  'mh-port': S,
  'mh-fallback': S,
  lb_kind: S,
  lvs_method: S,
  persistence_engine: S,
  persistence_timeout: S,
  persistence_granularity: S,
  protocol: S,
  ha_suspend: S,
  smtp_alert: NO_MAIL,
  virtualhost: S,
  snmp_name: NO_SNMP,
  alpha: S,
  omega: S,
  quorum_up: S,
  quorum_down: S,
  quorum: S,
  hysteresis: S,
  weight: S,
  sorry_server: S,
  sorry_server_inhibit: S,
  sorry_server_lvs_method: S,
  real_server: S,
};

/** real_server keywords (the checker blocks are the checker parser's). */
export const RS_KEYWORDS: Readonly<Record<string, KeywordInfo>> = {
  weight: S,
  lvs_method: S,
  uthreshold: S,
  lthreshold: S,
  inhibit_on_failure: S,
  notify_up: S,
  notify_down: S,
  alpha: S,
  retry: S,
  delay_before_retry: S,
  warmup: S,
  connect_timeout: S,
  delay_loop: S,
  smtp_alert: NO_MAIL,
  virtualhost: S,
  snmp_name: NO_SNMP,
};

/** The warning for a refused keyword, or undefined when `info` is not a refusal. */
export function refusal(kw: string, info: KeywordInfo | undefined): string | undefined {
  if (info?.status !== 'refused') return undefined;
  return `'${kw}' is not supported by tsvs (${info.why ?? 'not implemented'}), ignored`;
}
