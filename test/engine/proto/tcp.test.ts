/**
 * Every cell of both TCP transition tables (2 tables × 3 blocks × 4 rows × 11 states),
 * checked against the spec's own markdown tables pasted verbatim below (spec §2.3),
 * never against anything the code under test produces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  tcpNextState,
  TCP_STATE_NAMES,
  DIR_INPUT,
  DIR_OUTPUT,
  DIR_INPUT_ONLY,
  TCP_S_CLOSE,
} from '../../../src/engine/proto/tcp.js';

const SPEC = `
**Normal table**

INPUT

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SR | ES | ES | SR | SR | SR | SR | SR | SR | SR | SR |
| fin | CL | CW | SS | TW | TW | TW | CL | CW | LA | LI | TW |
| ack | **ES** | ES | SS | ES | FW | TW | CL | CW | CL | LI | ES |
| rst | CL | CL | CL | SR | CL | CL | CL | CL | LA | LI | SR |

OUTPUT

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SS | ES | SS | SR | SS | SS | SS | SS | SS | LI | SR |
| fin | TW | FW | SS | TW | FW | TW | CL | TW | LA | LI | TW |
| ack | ES | ES | SS | ES | FW | TW | CL | CW | LA | ES | ES |
| rst | CL | CL | SS | CL | CL | TW | CL | CL | CL | CL | CL |

INPUT-ONLY

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SR | ES | ES | SR | SR | SR | SR | SR | SR | SR | SR |
| fin | CL | FW | SS | TW | FW | TW | CL | CW | LA | LI | TW |
| ack | **ES** | ES | SS | ES | FW | TW | CL | CW | CL | LI | ES |
| rst | CL | CL | CL | SR | CL | CL | CL | CL | LA | LI | CL |

**Secure ("dos") table** (used while secure_tcp defence is active)

INPUT

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SR | ES | ES | SR | SR | SR | SR | SR | SR | SR | SA |
| fin | CL | CW | SS | TW | TW | TW | CL | CW | LA | LI | SA |
| ack | **ES** | ES | SS | SR | FW | TW | CL | CW | CL | LI | SA |
| rst | CL | CL | CL | SR | CL | CL | CL | CL | LA | LI | CL |

OUTPUT

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SS | ES | SS | SA | SS | SS | SS | SS | SS | LI | SA |
| fin | TW | FW | SS | TW | FW | TW | CL | TW | LA | LI | TW |
| ack | ES | ES | SS | ES | FW | TW | CL | CW | LA | ES | ES |
| rst | CL | CL | SS | CL | CL | TW | CL | CL | CL | CL | CL |

INPUT-ONLY

| row \\ cur | NO | ES | SS | SR | FW | TW | CL | CW | LA | LI | SA |
|---|---|---|---|---|---|---|---|---|---|---|---|
| syn | SA | ES | ES | SR | SA | SA | SA | SA | SA | SA | SA |
| fin | CL | FW | SS | TW | FW | TW | CL | CW | LA | LI | TW |
| ack | **ES** | ES | SS | ES | FW | TW | CL | CW | CL | LI | ES |
| rst | CL | CL | CL | SR | CL | CL | CL | CL | LA | LI | CL |

`;

const ABBR = ['NO', 'ES', 'SS', 'SR', 'FW', 'TW', 'CL', 'CW', 'LA', 'LI', 'SA'];
const FLAGS: Record<string, number> = { syn: 0x02, fin: 0x01, ack: 0x10, rst: 0x04 };

interface Cell {
  secure: boolean;
  dir: number;
  row: string;
  cur: number;
  next: number;
}

function parseSpec(): Cell[] {
  const cells: Cell[] = [];
  let secure = false;
  let dir = -1;
  for (const raw of SPEC.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('**Normal table**')) secure = false;
    else if (line.startsWith('**Secure')) secure = true;
    else if (line === 'INPUT') dir = DIR_INPUT;
    else if (line === 'OUTPUT') dir = DIR_OUTPUT;
    else if (line === 'INPUT-ONLY') dir = DIR_INPUT_ONLY;
    else if (/^\| (syn|fin|ack|rst) \|/.test(line)) {
      const parts = line
        .split('|')
        .map((p) => p.trim().replace(/\*/g, ''))
        .filter((p) => p !== '');
      const row = parts[0];
      const nexts = parts.slice(1);
      assert.equal(nexts.length, 11, `row ${row} has 11 columns`);
      nexts.forEach((n, cur) => cells.push({ secure, dir, row, cur, next: ABBR.indexOf(n) }));
    }
  }
  return cells;
}

const cells = parseSpec();

test('the spec tables have 264 cells (2 tables x 3 blocks x 4 rows x 11 states)', () => {
  assert.equal(cells.length, 264);
  assert.ok(cells.every((c) => c.next >= 0));
});

for (const c of cells) {
  const name = `${c.secure ? 'secure' : 'normal'} ${['INPUT', 'OUTPUT', 'INPUT-ONLY'][c.dir]} ${c.row} from ${TCP_STATE_NAMES[c.cur]} goes to ${TCP_STATE_NAMES[c.next]}`;
  test(name, () => {
    assert.equal(tcpNextState(c.secure, c.dir, FLAGS[c.row], c.cur), c.next);
  });
}

test('flag priority: RST before SYN, SYN before FIN, FIN before ACK', () => {
  // SYN+RST uses the rst row: from ESTABLISHED INPUT → CLOSE (syn row would stay ES)
  assert.equal(tcpNextState(false, DIR_INPUT, 0x06, 1), TCP_S_CLOSE);
  // SYN+FIN uses syn row: from NONE INPUT → SYN_RECV
  assert.equal(tcpNextState(false, DIR_INPUT, 0x03, 0), 3);
  // FIN+ACK uses fin row: from ESTABLISHED INPUT → CLOSE_WAIT
  assert.equal(tcpNextState(false, DIR_INPUT, 0x11, 1), 7);
});

test('a packet with none of SYN/FIN/ACK/RST goes to CLOSE from any state', () => {
  for (let s = 0; s < 11; s++) {
    for (const dir of [DIR_INPUT, DIR_OUTPUT, DIR_INPUT_ONLY]) {
      assert.equal(tcpNextState(false, dir, 0x08 /* PSH only */, s), TCP_S_CLOSE);
      assert.equal(tcpNextState(true, dir, 0, s), TCP_S_CLOSE);
    }
  }
});
