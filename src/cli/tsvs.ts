#!/usr/bin/env node
/** `tsvs`: the daemon, the lab demo, replay/trace and helpers. */

const USAGE = `Usage: tsvs <command> [options]

Commands:
  demo                 bring up the lab, balance HTTP over two real servers, tear down
  daemon               run the director on live packets
  decap                user-space IPIP decapsulator for real servers
  replay, trace        run a capture through the engine
  proc, sysctl         /proc/net/ip_vs* views and net.ipv4.vs.* settings
`;

function main(argv: string[]): number {
  const cmd = argv[0];
  if (cmd === undefined || cmd === '-h' || cmd === '--help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  process.stderr.write(`tsvs: unknown command '${cmd}'\n${USAGE}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
