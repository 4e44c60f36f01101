/**
 * `tsvs sysctl`: reads and writes the running daemon's `net.ipv4.vs.*` settings over
 * the control socket, with sysctl(8)'s options and messages (src/control/sysctl.ts
 * holds the model side).
 */
import { ControlClient, ControlUnavailableError, controlPath } from '../control/client.js';
import { ControlError, type SysctlEntry } from '../control/model.js';

/** The /proc/sys path of a setting name, as sysctl(8) reports it in errors. */
function procPath(name: string): string {
  return `/proc/sys/${name.replace(/\./g, '/')}`;
}

const USAGE = `Usage: tsvs sysctl [-n] [-a | name... | [-w] name=value...]
Read or write the daemon's net.ipv4.vs.* settings
(control socket: $TSVS_CONTROL, default /run/tsvs/control.sock).
`;

/**
 * `tsvs sysctl`: exit 0; 1 when a setting is unknown or a value refused; 2 on usage
 * errors or when no daemon answers.
 */
export async function runSysctl(argv: string[]): Promise<number> {
  let valuesOnly = false;
  let write = false;
  let all = false;
  const words: string[] = [];
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a === '-n' || a === '--values') valuesOnly = true;
    else if (a === '-w' || a === '--write') write = true;
    else if (a === '-a' || a === '-A' || a === '--all') all = true;
    else if (a.startsWith('-')) {
      process.stderr.write(`tsvs sysctl: unknown option ${a}\n${USAGE}`);
      return 2;
    } else words.push(a);
  }
  if (words.length === 0) all = true;
  let client: ControlClient;
  try {
    client = await ControlClient.connect(controlPath());
  } catch (e) {
    process.stderr.write(`tsvs sysctl: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const print = (e: SysctlEntry): void =>
    void process.stdout.write(valuesOnly ? `${e.value}\n` : `${e.name} = ${e.value}\n`);
  let status = 0;
  try {
    if (all && words.length === 0) {
      for (const e of await client.call({ cmd: 'sysctlGet' })) print(e);
      return 0;
    }
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq >= 0 || write) {
        if (eq < 0) {
          process.stderr.write(`sysctl: "${w}" must be of the form name=value\n`);
          status = 1;
          continue;
        }
        const name = w.slice(0, eq).trim();
        try {
          print(await client.call({ cmd: 'sysctlSet', name, value: w.slice(eq + 1).trim() }));
        } catch (e) {
          if (e instanceof ControlUnavailableError) throw e;
          const ce = ControlError.from(e);
          process.stderr.write(
            ce.errno === 'ENOENT'
              ? `sysctl: cannot stat ${procPath(name)}: No such file or directory\n`
              : `sysctl: setting key "${name.replace(/\//g, '.')}": ${ce.message}\n`,
          );
          status = 1;
        }
      } else {
        try {
          for (const e of await client.call({ cmd: 'sysctlGet', name: w })) print(e);
        } catch (e) {
          if (e instanceof ControlUnavailableError) throw e;
          process.stderr.write(`sysctl: cannot stat ${procPath(w)}: No such file or directory\n`);
          status = 1;
        }
      }
    }
    return status;
  } catch (e) {
    process.stderr.write(`tsvs sysctl: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  } finally {
    client.close();
  }
}
