/*
 * tsvs native: the bpf() system call for the established-flow fast path
 * (src/dataplane/fastpath.ts). The daemon opens the flow map that bpftool pinned
 * (BPF_OBJ_GET) and fills and empties it (many entries per call), and maps the slots
 * array of the program's counters into memory; keys and values
 * are caller-owned Uint8Arrays (their layout is in bpf/fastpath.c and
 * src/dataplane/fastpath-map.ts). Registered from tsvs_native.c's init.
 */
#include <node_api.h>

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tsvs_napi.h"

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

/* bpfObjGet(path) -> fd */
static napi_value obj_get(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  char path[4096];
  if (tsvs_arg_str(env, argv[0], path, sizeof path)) return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.pathname = (uint64_t)(uintptr_t)path;
  long fd = sys_bpf(BPF_OBJ_GET, &a);
  if (fd < 0) {
    tsvs_throw_errno(env, "bpf BPF_OBJ_GET", errno);
    return NULL;
  }
  return tsvs_i32(env, (int32_t)fd);
}

/* bpfMapUpdate(fd, key, value): BPF_ANY; throws on failure (E2BIG: map full) */
static napi_value map_update(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  int32_t fd;
  uint8_t *k, *v;
  size_t kl, vl;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_u8(env, argv[1], &k, &kl) ||
      tsvs_arg_u8(env, argv[2], &v, &vl))
    return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.value = (uint64_t)(uintptr_t)v;
  a.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) {
    tsvs_throw_errno(env, "bpf BPF_MAP_UPDATE_ELEM", errno);
    return NULL;
  }
  return NULL;
}

/*
 * bpfMapLookup(fd, keys, keySize, values, valueSize, n, found, del) -> number found:
 * looks up n consecutive keys (deleting each when del is 1: BPF_MAP_LOOKUP_AND_DELETE_ELEM,
 * or lookup then delete where the kernel lacks it for the map type); found[i] = 1 when
 * key i was there and its value was written at values[i * valueSize].
 */
static napi_value map_lookup(napi_env env, napi_callback_info info) {
  TSVS_ARGS(8);
  int32_t fd, ks, vs, n, del;
  uint8_t *k, *v, *f;
  size_t kl, vl, fl;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_u8(env, argv[1], &k, &kl) ||
      tsvs_arg_i32(env, argv[2], &ks) || tsvs_arg_u8(env, argv[3], &v, &vl) || tsvs_arg_i32(env, argv[4], &vs) ||
      tsvs_arg_i32(env, argv[5], &n) || tsvs_arg_u8(env, argv[6], &f, &fl) || tsvs_arg_i32(env, argv[7], &del))
    return NULL;
  if (ks <= 0 || vs <= 0 || n < 0 || (size_t)n * ks > kl || (size_t)n * vs > vl || (size_t)n > fl) {
    napi_throw_range_error(env, NULL, "bpfMapLookup: buffers too small");
    return NULL;
  }
  int32_t got = 0;
  for (int32_t i = 0; i < n; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)fd;
    a.key = (uint64_t)(uintptr_t)(k + (size_t)i * ks);
    a.value = (uint64_t)(uintptr_t)(v + (size_t)i * vs);
    long r = sys_bpf(del ? BPF_MAP_LOOKUP_AND_DELETE_ELEM : BPF_MAP_LOOKUP_ELEM, &a);
    if (r < 0 && del && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)) {
      r = sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
      if (r == 0) {
        a.value = 0;
        sys_bpf(BPF_MAP_DELETE_ELEM, &a);
      }
    }
    f[i] = r == 0;
    if (r == 0) got++;
    else if (errno != ENOENT) {
      tsvs_throw_errno(env, "bpf BPF_MAP_LOOKUP_ELEM", errno);
      return NULL;
    }
  }
  return tsvs_i32(env, got);
}

/* bpfMapDelete(fd, key) -> true when it was there */
static napi_value map_delete(napi_env env, napi_callback_info info) {
  TSVS_ARGS(2);
  int32_t fd;
  uint8_t *k;
  size_t kl;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_u8(env, argv[1], &k, &kl))
    return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  long r = sys_bpf(BPF_MAP_DELETE_ELEM, &a);
  if (r < 0 && errno != ENOENT) {
    tsvs_throw_errno(env, "bpf BPF_MAP_DELETE_ELEM", errno);
    return NULL;
  }
  napi_value b;
  napi_get_boolean(env, r == 0, &b);
  return b;
}

/* bpfMapNextKey(fd, key | null, next) -> true when next was written (iteration) */
static napi_value map_next_key(napi_env env, napi_callback_info info) {
  TSVS_ARGS(3);
  int32_t fd;
  uint8_t *k = NULL, *nk;
  size_t kl, nl;
  napi_valuetype t;
  if (tsvs_arg_i32(env, argv[0], &fd)) return NULL;
  napi_typeof(env, argv[1], &t);
  if (t != napi_null && tsvs_arg_u8(env, argv[1], &k, &kl)) return NULL;
  if (tsvs_arg_u8(env, argv[2], &nk, &nl)) return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.next_key = (uint64_t)(uintptr_t)nk;
  long r = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a);
  if (r < 0 && errno != ENOENT) {
    tsvs_throw_errno(env, "bpf BPF_MAP_GET_NEXT_KEY", errno);
    return NULL;
  }
  napi_value b;
  napi_get_boolean(env, r == 0, &b);
  return b;
}

/*
 * BPF_MAP_UPDATE_BATCH (BPF_ANY) or BPF_MAP_DELETE_BATCH of n consecutive keys (and
 * values; sizes: the map's), one system call. Returns how many were processed: fewer
 * than n when entry [result] was refused (map full, key missing); the caller goes on
 * after it.
 */
static napi_value batch_op(napi_env env, napi_callback_info info, int cmd) {
  TSVS_ARGS(cmd == BPF_MAP_UPDATE_BATCH ? 4 : 3);
  int32_t fd, n;
  uint8_t *k, *v = NULL;
  size_t kl, vl;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_u8(env, argv[1], &k, &kl)) return NULL;
  if (cmd == BPF_MAP_UPDATE_BATCH) {
    if (tsvs_arg_u8(env, argv[2], &v, &vl) || tsvs_arg_i32(env, argv[3], &n)) return NULL;
  } else if (tsvs_arg_i32(env, argv[2], &n)) {
    return NULL;
  }
  if (n <= 0) return tsvs_i32(env, 0);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.batch.map_fd = (uint32_t)fd;
  a.batch.keys = (uint64_t)(uintptr_t)k;
  a.batch.values = (uint64_t)(uintptr_t)v;
  a.batch.count = (uint32_t)n;
  a.batch.elem_flags = BPF_ANY;
  long r = sys_bpf(cmd, &a);
  if (r < 0) {
    /* count: how many were processed before the failing one */
    int32_t done = (int32_t)a.batch.count;
    if (done > n) done = 0;
    return tsvs_i32(env, done < n ? done : n);
  }
  return tsvs_i32(env, n);
}

/* bpfMapUpdateBatch(fd, keys, values, n) -> entries written before the first refused (n: all) */
static napi_value map_update_batch(napi_env env, napi_callback_info info) {
  return batch_op(env, info, BPF_MAP_UPDATE_BATCH);
}

/* bpfMapDeleteBatch(fd, keys, n) -> entries deleted before the first missing one (n: all) */
static napi_value map_delete_batch(napi_env env, napi_callback_info info) {
  return batch_op(env, info, BPF_MAP_DELETE_BATCH);
}

static void unmap_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* bpfMapMmap(fd, bytes) -> ArrayBuffer over a BPF_F_MMAPABLE array's values (shared, read-write) */
static napi_value map_mmap(napi_env env, napi_callback_info info) {
  TSVS_ARGS(2);
  int32_t fd, bytes;
  if (tsvs_arg_i32(env, argv[0], &fd) || tsvs_arg_i32(env, argv[1], &bytes)) return NULL;
  long pg = sysconf(_SC_PAGESIZE);
  size_t len = ((size_t)bytes + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    tsvs_throw_errno(env, "mmap of the BPF map", errno);
    return NULL;
  }
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)bytes, unmap_finalize, (void *)(uintptr_t)len, &ab) !=
      napi_ok) {
    munmap(p, len);
    tsvs_throw_msg(env, "bpfMapMmap: external ArrayBuffer refused");
    return NULL;
  }
  return ab;
}

void tsvs_bpf_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpfObjGet", NULL, obj_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapUpdate", NULL, map_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapLookup", NULL, map_lookup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapDelete", NULL, map_delete, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapNextKey", NULL, map_next_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapUpdateBatch", NULL, map_update_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapDeleteBatch", NULL, map_delete_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapMmap", NULL, map_mmap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
