/**
 * Counters and the rate estimator of spec §11. Counters are plain numbers (exact up
 * to 2^53, far beyond any run); the estimator uses the kernel's fixed-point EWMA and
 * is driven every 2 s by the engine's timer tick.
 */

export class Stats {
  conns = 0;
  inpkts = 0;
  outpkts = 0;
  inbytes = 0;
  outbytes = 0;

  // snapshot taken by zero(): reported values are (current - snapshot)
  private zConns = 0;
  private zInpkts = 0;
  private zOutpkts = 0;
  private zInbytes = 0;
  private zOutbytes = 0;

  // estimator state (spec §11.2)
  private lastConns = 0;
  private lastInpkts = 0;
  private lastOutpkts = 0;
  private lastInbytes = 0;
  private lastOutbytes = 0;
  private cpsAvg = 0;
  private inppsAvg = 0;
  private outppsAvg = 0;
  private inbpsAvg = 0;
  private outbpsAvg = 0;

  /** Counters since the last zero, as ipvsadm --stats shows them. */
  snapshot(): StatsSnapshot {
    return {
      conns: this.conns - this.zConns,
      inpkts: this.inpkts - this.zInpkts,
      outpkts: this.outpkts - this.zOutpkts,
      inbytes: this.inbytes - this.zInbytes,
      outbytes: this.outbytes - this.zOutbytes,
    };
  }

  /** Decoded rates (spec §11.2): per second, bytes for the bps pair. */
  rates(): RateSnapshot {
    return {
      cps: Math.floor((this.cpsAvg + 0x1ff) / 1024),
      inpps: Math.floor((this.inppsAvg + 0x1ff) / 1024),
      outpps: Math.floor((this.outppsAvg + 0x1ff) / 1024),
      inbps: Math.floor((this.inbpsAvg + 0xf) / 32),
      outbps: Math.floor((this.outbpsAvg + 0xf) / 32),
    };
  }

  /** One 2-second estimation step. */
  estimate(): void {
    this.cpsAvg = ewma(this.cpsAvg, (this.conns - this.lastConns) * 512);
    this.inppsAvg = ewma(this.inppsAvg, (this.inpkts - this.lastInpkts) * 512);
    this.outppsAvg = ewma(this.outppsAvg, (this.outpkts - this.lastOutpkts) * 512);
    this.inbpsAvg = ewma(this.inbpsAvg, (this.inbytes - this.lastInbytes) * 16);
    this.outbpsAvg = ewma(this.outbpsAvg, (this.outbytes - this.lastOutbytes) * 16);
    this.lastConns = this.conns;
    this.lastInpkts = this.inpkts;
    this.lastOutpkts = this.outpkts;
    this.lastInbytes = this.inbytes;
    this.lastOutbytes = this.outbytes;
  }

  /** ipvsadm -Z: snapshot the totals and reset the estimator. */
  zero(): void {
    this.zConns = this.conns;
    this.zInpkts = this.inpkts;
    this.zOutpkts = this.outpkts;
    this.zInbytes = this.inbytes;
    this.zOutbytes = this.outbytes;
    this.lastConns = this.conns;
    this.lastInpkts = this.inpkts;
    this.lastOutpkts = this.outpkts;
    this.lastInbytes = this.inbytes;
    this.lastOutbytes = this.outbytes;
    this.cpsAvg = this.inppsAvg = this.outppsAvg = this.inbpsAvg = this.outbpsAvg = 0;
  }
}

/** avg += (rate - avg) >> 2, with the kernel's arithmetic shift (floor division). */
function ewma(avg: number, rate: number): number {
  return avg + Math.floor((rate - avg) / 4);
}

export interface StatsSnapshot {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
}

export interface RateSnapshot {
  cps: number;
  inpps: number;
  outpps: number;
  inbps: number;
  outbps: number;
}

/** What the counting functions need of a dest: its counters and its service's. */
interface Counted {
  readonly stats: Stats;
  readonly svc: { readonly stats: Stats };
}

/** ip_vs_in_stats: an INPUT packet of `bytes` to dest `d` (§11.1). */
export function countIn(totals: Stats, d: Counted, bytes: number): void {
  d.stats.inpkts++;
  d.stats.inbytes += bytes;
  d.svc.stats.inpkts++;
  d.svc.stats.inbytes += bytes;
  totals.inpkts++;
  totals.inbytes += bytes;
}

/** ip_vs_out_stats: an OUTPUT packet of `bytes` from dest `d` (§11.1). */
export function countOut(totals: Stats, d: Counted, bytes: number): void {
  d.stats.outpkts++;
  d.stats.outbytes += bytes;
  d.svc.stats.outpkts++;
  d.svc.stats.outbytes += bytes;
  totals.outpkts++;
  totals.outbytes += bytes;
}

/** ip_vs_conn_stats: a new conn to dest `d` (§11.1). */
export function countConn(totals: Stats, d: Counted): void {
  d.stats.conns++;
  d.svc.stats.conns++;
  totals.conns++;
}
