/**
 * `tsvs proc <name>`: prints one of the kernel's procfs views (src/control/proc.ts
 * renders them) as the running daemon serves it over the control socket.
 */
import { ControlClient, ControlUnavailableError, controlPath } from '../control/client.js';
import { PROC_FILES } from '../control/proc.js';

const PROC_USAGE = `Usage: tsvs proc <${PROC_FILES.join('|')}>
Print the kernel-format view /proc/net/<name> of the running daemon
(control socket: $TSVS_CONTROL, default /run/tsvs/control.sock).
`;

/**
 * `tsvs proc <name>`: fetch a view from the daemon and print it. Exit 0, 1 when the
 * daemon refuses, 2 on usage errors or when no daemon answers.
 */
export async function runProc(argv: string[]): Promise<number> {
  const name = argv[0];
  if (name === '-h' || name === '--help') {
    process.stdout.write(PROC_USAGE);
    return 0;
  }
  if (name === undefined || argv.length !== 1) {
    process.stderr.write(PROC_USAGE);
    return 2;
  }
  let client: ControlClient;
  try {
    client = await ControlClient.connect(controlPath());
  } catch (e) {
    process.stderr.write(`tsvs proc: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  try {
    const text = await client.call({ cmd: 'proc', name });
    process.stdout.write(text);
    return 0;
  } catch (e) {
    if (e instanceof ControlUnavailableError) {
      process.stderr.write(`tsvs proc: ${e.message}\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tsvs proc: cannot read /proc/net/${name}: ${msg}\n`);
    return 1;
  } finally {
    client.close();
  }
}
