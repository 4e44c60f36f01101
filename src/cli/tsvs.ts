#!/usr/bin/env node
/** `tsvs`: the daemon, the lab demo, replay/trace, decap and the procfs/sysctl views. */
import { parseArgs } from 'node:util';

const USAGE = `Usage: tsvs <command> [options]

Commands:
  demo [--requests N]       bring up the lab, balance HTTP rr over two real servers
                            through the real daemon, print who answered and the
                            connection table, tear everything down (root)
  daemon [--config FILE] [--control PATH] [--state FILE | --no-state] [--name NAME]
         [--ftp-ports P[,P]...] [--no-steer] [--metrics [HOST:]PORT]
         [--keepalived FILE] [--takeover] [--no-journal] [--run-dir DIR]
  daemon --stop-clean [--control PATH] [--name NAME]
                            run the director in the foreground (root). FILE holds
                            ipvsadm rules (ipvsadm -S format) or a tsvs JSON config.
                            The FTP helper serves NAT services on the ftp ports
                            (default 21, at most 8; 0 turns it off). --no-steer (or
                            TSVS_STEER=0) captures with the netfilter queues alone,
                            without the tc filters and TUN devices of the fast path.
                            --metrics serves Prometheus metrics at /metrics
                            (a bare port listens on 127.0.0.1). --keepalived
                            creates the virtual servers of a keepalived.conf and
                            runs their health checks (TCP_CHECK, HTTP_GET,
                            MISC_CHECK) as keepalived would.
                            SIGTERM (systemd's stop/restart) saves the connection
                            table and leaves capture in place, dropping packets
                            until the next start restores it; a crash journal in
                            --run-dir (default: the control socket's directory)
                            lets a restart after a crash keep them. --takeover
                            takes over from the running daemon without a gap.
                            SIGINT or --stop-clean removes everything (see
                            docs/operations-state.md).
                            TSVS_CONTROL overrides the default control socket
                            /run/tsvs/control.sock (per named netns:
                            /run/tsvs/netns/NAME/control.sock)
  decap [--netns NS] [--allow ADDR]...
                            user-space IPIP decapsulator for real servers (root)
  replay --config FILE in.pcap [out.pcap]
  trace --config FILE in.pcap [--json] [--explain]
                            run a capture through the engine
  proc ip_vs|ip_vs_stats|ip_vs_conn
                            the kernel's /proc/net views, from the daemon
  sysctl [net.ipv4.vs.NAME[=VALUE]]...
                            read or set net.ipv4.vs.* settings of the daemon
`;

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  const rest = argv.slice(1);
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { requests: { type: 'string' }, prefix: { type: 'string' } },
      });
      const { runDemo } = await import('./demo.js');
      return runDemo({
        requests: values.requests ? Number(values.requests) : undefined,
        prefix: values.prefix,
      });
    }
    case 'daemon': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          control: { type: 'string' },
          state: { type: 'string' },
          'no-state': { type: 'boolean' },
          name: { type: 'string' },
          'queue-in': { type: 'string' },
          'queue-out': { type: 'string' },
          'ftp-ports': { type: 'string' },
          'no-steer': { type: 'boolean' },
          metrics: { type: 'string' },
          keepalived: { type: 'string' },
          takeover: { type: 'boolean' },
          'no-journal': { type: 'boolean' },
          'run-dir': { type: 'string' },
          'stop-clean': { type: 'boolean' },
        },
      });
      const ftp = values['ftp-ports'];
      const { runDaemon, defaultPaths } = await import('../daemon/daemon.js');
      if (values['stop-clean']) {
        const { stopClean } = await import('../daemon/state.js');
        const { dirname } = await import('node:path');
        const { currentNetnsName } = await import('../sys/netns.js');
        const control = values.control ?? defaultPaths().control;
        return stopClean({
          control,
          name: values.name ?? (currentNetnsName() || 'main'),
          queueIn: values['queue-in'] ? Number(values['queue-in']) : undefined,
          queueOut: values['queue-out'] ? Number(values['queue-out']) : undefined,
          runDir: values['run-dir'] ?? dirname(control),
          log: (l) => process.stderr.write(`tsvs: ${l}\n`),
        });
      }
      return runDaemon({
        config: values.config,
        control: values.control,
        state: values['no-state'] ? null : values.state,
        name: values.name,
        queueIn: values['queue-in'] ? Number(values['queue-in']) : undefined,
        queueOut: values['queue-out'] ? Number(values['queue-out']) : undefined,
        ftpPorts: ftp === undefined ? undefined : ftp.split(',').map((p) => Number(p.trim())),
        steer: values['no-steer'] ? false : undefined,
        metrics: values.metrics,
        keepalived: values.keepalived,
        takeover: values.takeover,
        journal: values['no-journal'] ? false : undefined,
        runDir: values['run-dir'],
      });
    }
    case 'decap': {
      const { values } = parseArgs({
        args: rest,
        options: {
          netns: { type: 'string' },
          allow: { type: 'string', multiple: true },
          tun: { type: 'string' },
        },
      });
      const { runDecap } = await import('../dataplane/decap.js');
      const h = runDecap({
        netns: values.netns,
        allowedSources: values.allow,
        tunName: values.tun,
        onWarning: (m) => process.stderr.write(`tsvs decap: ${m}\n`),
      });
      process.stderr.write(`tsvs decap: delivering decapsulated packets through ${h.tunName}\n`);
      return new Promise<number>((resolve) => {
        const stop = (): void => {
          h.close();
          resolve(0);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }
    case 'replay':
    case 'trace': {
      const mod = await import('../replay/cli.js');
      return cmd === 'replay' ? mod.runReplay(rest) : mod.runTrace(rest);
    }
    case 'proc':
      return (await import('./proc.js')).runProc(rest);
    case 'sysctl':
      return (await import('./sysctl.js')).runSysctl(rest);
    default:
      process.stderr.write(`tsvs: unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tsvs: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
