/**
 * The private state of an object the engine does not describe field by field — a
 * scheduler instance (rr's cursor, wrr's weight threshold, lblc's cache, mh's table,
 * twos' random state), a counter block — as a plain tree, and back into a fresh
 * instance of the same kind.
 *
 * Walking the instance's own fields keeps this file the only one that knows how to save
 * a scheduler: the fourteen scheduler modules need no save/restore code of their own,
 * and a scheduler whose fields change between versions is recognised at restore (the
 * shape of the fresh instance no longer matches) and simply starts fresh, which is the
 * kernel's behaviour for a scheduler that is reattached.
 *
 * Encoding: numbers, booleans, strings and null as themselves; typed arrays as copies;
 * a dest as `{ $d: id }` (its id in the saved engine); arrays as `{ $a: [...] }`;
 * other objects as `{ $o: { field: ... } }`. Functions and the objects passed in
 * `skip` (the service, the scheduler context, the settings) are left out: the fresh
 * instance has its own.
 *
 * @module
 */
import { Dest, Service } from './service.js';

/** One encoded value (see the module comment). */
export type StateTree =
  | number
  | boolean
  | string
  | null
  | TypedArrayState
  | { $d: number }
  | { $a: StateTree[] }
  | { $o: { [field: string]: StateTree } };

/** The typed arrays a tree may hold. */
export type TypedArrayState =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** Deepest nesting walked: the schedulers nest two or three levels. */
const MAX_DEPTH = 8;

function isTyped(v: unknown): v is TypedArrayState {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** A copy of the state of `obj` (its own fields), dests by their id. */
export function encodeTree(obj: object, skip: ReadonlySet<object>, depth = 0): StateTree {
  if (depth > MAX_DEPTH) throw new Error('state nested too deeply');
  const out: { [field: string]: StateTree } = {};
  for (const k of Object.keys(obj)) {
    const v = encodeValue((obj as Record<string, unknown>)[k], skip, depth + 1);
    if (v !== undefined) out[k] = v;
  }
  return { $o: out };
}

function encodeValue(v: unknown, skip: ReadonlySet<object>, depth: number): StateTree | undefined {
  if (v === null) return null;
  switch (typeof v) {
    case 'number':
    case 'boolean':
    case 'string':
      return v;
    case 'object':
      break;
    default:
      return undefined; // functions, undefined, symbols, bigints: not state
  }
  const o = v as object;
  if (skip.has(o) || o instanceof Service) return undefined;
  if (o instanceof Dest) return { $d: o.id };
  if (isTyped(o)) return o.slice();
  if (Array.isArray(o)) {
    const a: StateTree[] = [];
    for (const e of o) {
      const x = encodeValue(e, skip, depth + 1);
      if (x === undefined) throw new Error('an array holds a value that is not state');
      a.push(x);
    }
    return { $a: a };
  }
  if (o instanceof Map || o instanceof Set || o instanceof WeakMap) return undefined;
  return encodeTree(o, skip, depth);
}

/**
 * Writes `tree` into `obj`, a fresh instance of the kind it was taken from; `dest`
 * turns a saved dest id into a dest of this engine (null: none). With `apply` false
 * only checks that every field exists with the same kind of value; throws an Error
 * naming the first field that does not. Run it once without `apply`, then with it, so
 * a mismatch leaves the instance untouched.
 */
export function decodeTree(
  obj: object,
  tree: StateTree,
  dest: (id: number) => Dest | null,
  apply: boolean,
  path = '',
  depth = 0,
): void {
  if (depth > MAX_DEPTH) throw new Error(`${path || 'state'}: nested too deeply`);
  if (tree === null || typeof tree !== 'object' || !('$o' in tree))
    throw new Error(`${path || 'state'}: not an object`);
  const rec = obj as Record<string, unknown>;
  const fields = tree.$o;
  if (typeof fields !== 'object' || fields === null)
    throw new Error(`${path || 'state'}: not an object`);
  for (const k of Object.keys(fields)) {
    const p = path ? `${path}.${k}` : k;
    if (!Object.prototype.hasOwnProperty.call(rec, k)) throw new Error(`${p}: no such field`);
    const cur = rec[k];
    const v = fields[k];
    if (
      cur !== null &&
      typeof cur === 'object' &&
      !isTyped(cur) &&
      !Array.isArray(cur) &&
      !(cur instanceof Dest)
    ) {
      decodeTree(cur, v, dest, apply, p, depth + 1);
      continue;
    }
    const nv = decodeValue(cur, v, dest, p, depth + 1);
    if (apply) rec[k] = nv;
  }
}

function decodeValue(
  cur: unknown,
  v: StateTree,
  dest: (id: number) => Dest | null,
  path: string,
  depth: number,
): unknown {
  if (depth > MAX_DEPTH) throw new Error(`${path}: nested too deeply`);
  if (v === null) {
    if (cur !== null && !(cur instanceof Dest) && cur !== undefined)
      throw new Error(`${path}: null where the scheduler keeps a value`);
    return null;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') {
    if (cur !== undefined && cur !== null && typeof cur !== typeof v)
      throw new Error(`${path}: a ${typeof v} where the scheduler keeps a ${typeof cur}`);
    return v;
  }
  if (isTyped(v)) {
    if (!isTyped(cur) || cur.constructor !== v.constructor)
      throw new Error(`${path}: a ${v.constructor.name} where the scheduler keeps another kind`);
    return v.slice();
  }
  if ('$d' in v) {
    if (cur !== null && cur !== undefined && !(cur instanceof Dest))
      throw new Error(`${path}: a real server where the scheduler keeps another kind`);
    if (typeof v.$d !== 'number') throw new Error(`${path}: bad real server reference`);
    const d = dest(v.$d);
    if (d === null) throw new Error(`${path}: refers to real server #${v.$d}, not saved`);
    return d;
  }
  if ('$a' in v) {
    if (cur !== undefined && cur !== null && !Array.isArray(cur))
      throw new Error(`${path}: a list where the scheduler keeps another kind`);
    if (!Array.isArray(v.$a)) throw new Error(`${path}: bad list`);
    // elements of a list are checked against the list's first element, if any
    const sample = Array.isArray(cur) && cur.length ? (cur as unknown[])[0] : undefined;
    return v.$a.map((e, i) => decodeValue(sample, e, dest, `${path}[${i}]`, depth + 1));
  }
  throw new Error(`${path}: an object where the scheduler keeps a value`);
}
