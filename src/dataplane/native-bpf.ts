/**
 * The addon's bpf() system-call wrappers (native/tsvs_bpf.c): open a pinned object and
 * read, write and delete map entries whose keys and values are caller-owned byte
 * arrays (their layouts belong to the BPF programs' own modules, e.g.
 * src/dataplane/fastpath-map.ts). Not per packet: the daemon writes a map once per
 * flow and direction, and reads counts in batches.
 *
 * @module
 */
import { loadNative } from './native.js';

/** The bpf() functions of the addon. */
export interface BpfBinding {
  /** BPF_OBJ_GET: a descriptor of the object pinned at `path`. */
  bpfObjGet(path: string): number;
  /** BPF_MAP_UPDATE_ELEM with BPF_ANY; throws E2BIG when the map is full. */
  bpfMapUpdate(fd: number, key: Uint8Array, value: Uint8Array): void;
  /**
   * Looks up `n` consecutive keys of `keySize` bytes (deleting each when `del` is 1);
   * `found[i]` is 1 when key i was there and its value was written at
   * `values[i * valueSize]`. Returns how many were found.
   */
  bpfMapLookup(
    fd: number,
    keys: Uint8Array,
    keySize: number,
    values: Uint8Array,
    valueSize: number,
    n: number,
    found: Uint8Array,
    del: number,
  ): number;
  /** BPF_MAP_DELETE_ELEM: true when the key was there. */
  bpfMapDelete(fd: number, key: Uint8Array): boolean;
  /** BPF_MAP_GET_NEXT_KEY (`key` null: the first); true when `next` was written. */
  bpfMapNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean;
  /**
   * BPF_MAP_UPDATE_BATCH (BPF_ANY) of `n` consecutive keys and values, one system
   * call: how many were written before the first one refused (`n`: all).
   */
  bpfMapUpdateBatch(fd: number, keys: Uint8Array, values: Uint8Array, n: number): number;
  /** BPF_MAP_DELETE_BATCH of `n` consecutive keys: how many before the first missing one. */
  bpfMapDeleteBatch(fd: number, keys: Uint8Array, n: number): number;
  /** The values of a BPF_F_MMAPABLE array, mapped shared and writable (`bytes` of them). */
  bpfMapMmap(fd: number, bytes: number): ArrayBuffer;
  close(fd: number): void;
}

/** The addon's bpf() wrappers (loads the addon on first use; throws when it is missing). */
export function bpf(): BpfBinding {
  return loadNative() as unknown as BpfBinding;
}
