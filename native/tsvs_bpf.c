/*
 * tsvs native: the bpf() system call for the established-flow fast path
 * (src/dataplane/fastpath.ts). The daemon opens the flow map that bpftool pinned
 * (BPF_OBJ_GET) and fills, reads and empties it one entry at a time; keys and values
 * are caller-owned Uint8Arrays (their layout is in bpf/fastpath.c and
 * src/dataplane/fastpath-map.ts). Registered from tsvs_native.c's init.
 */
#include <node_api.h>

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

static void bpf_throw(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  napi_throw(env, e);
}

static int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, "bpf: missing arguments");
    return -1;
  }
  return 0;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "bpf: expected an integer");
    return -1;
  }
  return 0;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **p, size_t *len) {
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  void *d;
  if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "bpf: expected a Uint8Array");
    return -1;
  }
  *p = d;
  return 0;
}

static napi_value ret_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* bpfObjGet(path) -> fd */
static napi_value obj_get(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  size_t n;
  if (get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "bpfObjGet: expected a path");
    return NULL;
  }
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.pathname = (uint64_t)(uintptr_t)path;
  long fd = sys_bpf(BPF_OBJ_GET, &a);
  if (fd < 0) {
    bpf_throw(env, "bpf BPF_OBJ_GET", errno);
    return NULL;
  }
  return ret_i32(env, (int32_t)fd);
}

/* bpfMapUpdate(fd, key, value): BPF_ANY; throws on failure (E2BIG: map full) */
static napi_value map_update(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  uint8_t *k, *v;
  size_t kl, vl;
  if (get_args(env, info, 3, argv) || get_i32(env, argv[0], &fd) || get_bytes(env, argv[1], &k, &kl) ||
      get_bytes(env, argv[2], &v, &vl))
    return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.value = (uint64_t)(uintptr_t)v;
  a.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) {
    bpf_throw(env, "bpf BPF_MAP_UPDATE_ELEM", errno);
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
  napi_value argv[8];
  int32_t fd, ks, vs, n, del;
  uint8_t *k, *v, *f;
  size_t kl, vl, fl;
  if (get_args(env, info, 8, argv) || get_i32(env, argv[0], &fd) || get_bytes(env, argv[1], &k, &kl) ||
      get_i32(env, argv[2], &ks) || get_bytes(env, argv[3], &v, &vl) || get_i32(env, argv[4], &vs) ||
      get_i32(env, argv[5], &n) || get_bytes(env, argv[6], &f, &fl) || get_i32(env, argv[7], &del))
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
      bpf_throw(env, "bpf BPF_MAP_LOOKUP_ELEM", errno);
      return NULL;
    }
  }
  return ret_i32(env, got);
}

/* bpfMapDelete(fd, key) -> true when it was there */
static napi_value map_delete(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint8_t *k;
  size_t kl;
  if (get_args(env, info, 2, argv) || get_i32(env, argv[0], &fd) || get_bytes(env, argv[1], &k, &kl))
    return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  long r = sys_bpf(BPF_MAP_DELETE_ELEM, &a);
  if (r < 0 && errno != ENOENT) {
    bpf_throw(env, "bpf BPF_MAP_DELETE_ELEM", errno);
    return NULL;
  }
  napi_value b;
  napi_get_boolean(env, r == 0, &b);
  return b;
}

/* bpfMapNextKey(fd, key | null, next) -> true when next was written (iteration) */
static napi_value map_next_key(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  uint8_t *k = NULL, *nk;
  size_t kl, nl;
  napi_valuetype t;
  if (get_args(env, info, 3, argv) || get_i32(env, argv[0], &fd)) return NULL;
  napi_typeof(env, argv[1], &t);
  if (t != napi_null && get_bytes(env, argv[1], &k, &kl)) return NULL;
  if (get_bytes(env, argv[2], &nk, &nl)) return NULL;
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.next_key = (uint64_t)(uintptr_t)nk;
  long r = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a);
  if (r < 0 && errno != ENOENT) {
    bpf_throw(env, "bpf BPF_MAP_GET_NEXT_KEY", errno);
    return NULL;
  }
  napi_value b;
  napi_get_boolean(env, r == 0, &b);
  return b;
}

void tsvs_bpf_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpfObjGet", NULL, obj_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapUpdate", NULL, map_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapLookup", NULL, map_lookup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapDelete", NULL, map_delete, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bpfMapNextKey", NULL, map_next_key, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
