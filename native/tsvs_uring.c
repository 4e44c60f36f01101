/*
 * tsvs io_uring shim: many TUN reads (or writes) per system call.
 *
 * A TUN device has no recvmmsg: every packet is one read(). Here one io_uring_enter
 * submits N read SQEs on the (non-blocking) TUN descriptor and waits for their N
 * completions: the kernel issues them one after the other inline, each takes the next
 * queued packet, and those that find the queue empty complete with -EAGAIN. So a
 * wake-up costs one system call however many packets it carries. Writes into the TUN
 * (packets handed back to the kernel) are batched the same way.
 *
 * Raw system calls and the uapi header only (io_uring_setup(2), io_uring_enter(2),
 * the rings mapped with mmap as io_uring(7) describes) — no liburing, so node-gyp
 * builds it on a machine with nothing but gcc and linux-libc-dev. Without
 * <linux/io_uring.h> or the syscall numbers it builds to stubs that report
 * "unavailable", and the JS side keeps plain read()/write().
 *
 * Exports (registered by tsvs_native.c):
 *   uringOpen(entries) -> handle            throws (e.g. ENOSYS, EPERM) when refused
 *   uringReadBatch(h, fd, buf, meta, max, slot, want) -> count
 *   uringWriteBatch(h, fd, buf, meta, count) -> consumed
 *   uringClose(h)
 * Batch layout as tsvs_native.c's readBatch/writeBatch for KIND_TUN.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#define TSVS_HAVE_URING_H 1
#endif
#endif

#if defined(TSVS_HAVE_URING_H) && defined(__NR_io_uring_setup) && defined(__NR_io_uring_enter)
#define TSVS_URING 1
#include <linux/fs.h>
#include <sys/mman.h>
#endif

#include "tsvs_napi.h"

#define META_STRIDE 8
#define TUN_GAP 64
/* SQEs per ring, and so the most reads or writes one io_uring_enter carries */
#define URING_MAX 256

#ifdef TSVS_URING

typedef struct {
  int fd;
  unsigned entries;
  void *sq_map, *cq_map, *sqe_map;
  size_t sq_len, cq_len, sqe_len;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
} uring;

static void uring_free(uring *u) {
  if (u->sqe_map && u->sqe_map != MAP_FAILED) munmap(u->sqe_map, u->sqe_len);
  if (u->cq_map && u->cq_map != MAP_FAILED && u->cq_map != u->sq_map) munmap(u->cq_map, u->cq_len);
  if (u->sq_map && u->sq_map != MAP_FAILED) munmap(u->sq_map, u->sq_len);
  if (u->fd >= 0) close(u->fd);
  u->fd = -1;
  u->sq_map = u->cq_map = u->sqe_map = NULL;
}

/* io_uring_setup + the three mappings (two with IORING_FEAT_SINGLE_MMAP). 0 or -errno. */
static int uring_setup(uring *u, unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  memset(u, 0, sizeof *u);
  u->fd = -1;
  int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
  if (fd < 0) return -errno;
  u->fd = fd;
  u->entries = p.sq_entries;
  u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    if (u->cq_len > u->sq_len) u->sq_len = u->cq_len;
    u->cq_len = u->sq_len;
  }
  u->sq_map = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (u->sq_map == MAP_FAILED) goto fail;
  if (p.features & IORING_FEAT_SINGLE_MMAP)
    u->cq_map = u->sq_map;
  else {
    u->cq_map = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (u->cq_map == MAP_FAILED) goto fail;
  }
  u->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
  u->sqe_map = mmap(NULL, u->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (u->sqe_map == MAP_FAILED) goto fail;
  uint8_t *sq = u->sq_map, *cq = u->cq_map;
  u->sq_head = (unsigned *)(sq + p.sq_off.head);
  u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  u->sq_array = (unsigned *)(sq + p.sq_off.array);
  u->cq_head = (unsigned *)(cq + p.cq_off.head);
  u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  u->sqes = u->sqe_map;
  /* the SQ index array never changes: slot i is SQE i */
  for (unsigned i = 0; i < p.sq_entries; i++) u->sq_array[i] = i;
  return 0;
fail : {
  int e = errno;
  uring_free(u);
  return -e;
}
}

/* Queues one read or write SQE (the ring has room: at most `entries` per call). */
static void uring_prep(uring *u, uint8_t op, int fd, void *addr, unsigned len, uint64_t tag, int nowait) {
  unsigned tail = *u->sq_tail;
  unsigned idx = tail & *u->sq_mask;
  struct io_uring_sqe *s = &u->sqes[idx];
  memset(s, 0, sizeof *s);
  s->opcode = op;
  s->fd = fd;
  s->off = (uint64_t)-1; /* the file position: a TUN is a stream */
  s->addr = (uint64_t)(uintptr_t)addr;
  s->len = len;
  s->user_data = tag;
  /* a file that supports NOWAIT (a TUN does) has its O_NONBLOCK ignored by io_uring,
   * which would arm a poll and complete the read when a packet comes: RWF_NOWAIT
   * makes an empty read complete at once with -EAGAIN */
  if (nowait) s->rw_flags = RWF_NOWAIT;
  u->sq_array[idx] = idx;
  __atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/*
 * Submits the `k` queued SQEs and waits for their `k` completions (reads on a
 * non-blocking TUN complete inline: a packet or -EAGAIN), storing each result by tag
 * in res[]. 0 or -errno.
 */
static int uring_run(uring *u, unsigned k, int32_t *res) {
  unsigned submitted = 0, reaped = 0;
  while (reaped < k) {
    unsigned want = k - reaped;
    int r = (int)syscall(__NR_io_uring_enter, u->fd, k - submitted, want, IORING_ENTER_GETEVENTS, NULL, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (submitted == 0 && (errno == EAGAIN || errno == EBUSY)) continue;
      /* the SQEs not yet taken are taken back (none stay queued for a later call) */
      if (submitted < k) *u->sq_tail -= k - submitted;
      if (reaped == 0 && submitted == 0) return -errno;
      k = submitted;
      if (reaped >= k) break;
    } else {
      submitted += (unsigned)r;
    }
    unsigned head = *u->cq_head;
    unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
    while (head != tail) {
      struct io_uring_cqe *c = &u->cqes[head & *u->cq_mask];
      if (c->user_data < URING_MAX) res[c->user_data] = c->res;
      head++;
      reaped++;
    }
    __atomic_store_n(u->cq_head, head, __ATOMIC_RELEASE);
  }
  return 0;
}

#endif /* TSVS_URING */

/* ---------------------------------------------------------------- N-API */

typedef struct {
#ifdef TSVS_URING
  uring u;
#endif
  int open;
  /* writes refused RWF_NOWAIT (EOPNOTSUPP) once: plain write() from then on */
  int plain_writes;
} uring_box;

static void uring_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  uring_box *b = data;
#ifdef TSVS_URING
  if (b->open) uring_free(&b->u);
#endif
  free(b);
}

static uring_box *arg_ring(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    tsvs_throw_msg(env, "uring: expected a ring handle");
    return NULL;
  }
  uring_box *b = data;
  if (!b->open) {
    tsvs_throw_msg(env, "uring: ring closed");
    return NULL;
  }
  return b;
}


/* uringOpen(entries) -> handle */
static napi_value uring_open(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  int32_t entries;
  if (tsvs_arg_i32(env, argv[0], &entries)) return NULL;
#ifdef TSVS_URING
  if (entries < 1 || entries > URING_MAX) entries = URING_MAX;
  uring_box *b = calloc(1, sizeof *b);
  if (!b) {
    tsvs_throw_errno(env, "uringOpen", ENOMEM);
    return NULL;
  }
  int r = uring_setup(&b->u, (unsigned)entries);
  if (r < 0) {
    free(b);
    tsvs_throw_errno(env, "io_uring_setup", -r);
    return NULL;
  }
  b->open = 1;
  napi_value ext;
  napi_create_external(env, b, uring_finalize, NULL, &ext);
  return ext;
#else
  tsvs_throw_errno(env, "io_uring_setup (not built in)", ENOSYS);
  return NULL;
#endif
}

/* uringClose(handle): idempotent */
static napi_value uring_close(napi_env env, napi_callback_info info) {
  TSVS_ARGS(1);
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    tsvs_throw_msg(env, "uring: expected a ring handle");
    return NULL;
  }
  uring_box *b = data;
#ifdef TSVS_URING
  if (b->open) uring_free(&b->u);
#endif
  b->open = 0;
  return NULL;
}

/*
 * uringReadBatch(ring, fd, buf, meta, max, slot, want) -> count
 *
 * One io_uring_enter with up to `want` reads of a TUN (clamped to `max`, the meta
 * capacity, the ring and the slots of `slot` bytes that fit in `buf`), each into its
 * own slot with TUN_GAP bytes in front. The packets read are described in meta in the
 * order they were read; the empty reads (-EAGAIN) are left out. An error other than
 * "nothing ready" throws when no packet was read, else ends the batch quietly.
 */
static napi_value uring_read_batch(napi_env env, napi_callback_info info) {
  TSVS_ARGS(7);
  uring_box *b = arg_ring(env, argv[0]);
  if (!b) return NULL;
  int32_t fd, max, slot, want;
  uint8_t *buf;
  int32_t *meta;
  size_t buflen, metalen;
  if (tsvs_arg_i32(env, argv[1], &fd) || tsvs_arg_u8(env, argv[2], &buf, &buflen) ||
      tsvs_arg_i32arr(env, argv[3], &meta, &metalen) || tsvs_arg_i32(env, argv[4], &max) ||
      tsvs_arg_i32(env, argv[5], &slot) || tsvs_arg_i32(env, argv[6], &want))
    return NULL;
#ifdef TSVS_URING
  if (slot <= 0) slot = 65536 + 64;
  size_t stride = ((size_t)TUN_GAP + (size_t)slot + 7u) & ~(size_t)7u;
  int cap = (int)(metalen / META_STRIDE);
  if (max < cap) cap = max;
  if (want < cap) cap = want;
  if (cap > (int)b->u.entries) cap = (int)b->u.entries;
  if ((size_t)cap > buflen / stride) cap = (int)(buflen / stride);
  if (cap <= 0) return tsvs_i32(env, 0);
  int32_t res[URING_MAX];
  for (int i = 0; i < cap; i++)
    uring_prep(&b->u, IORING_OP_READ, fd, buf + (size_t)i * stride + TUN_GAP, (unsigned)slot, (uint64_t)i, 1);
  int r = uring_run(&b->u, (unsigned)cap, res);
  if (r < 0) {
    tsvs_throw_errno(env, "uringReadBatch", -r);
    return NULL;
  }
  int n = 0, err = 0;
  for (int i = 0; i < cap; i++) {
    if (res[i] < 0) {
      if (res[i] != -EAGAIN && res[i] != -EINTR && !err) err = -res[i];
      continue;
    }
    int32_t *m = meta + (size_t)n * META_STRIDE;
    memset(m, 0, META_STRIDE * sizeof(int32_t));
    m[0] = (int32_t)((size_t)i * stride + TUN_GAP);
    m[1] = res[i];
    n++;
  }
  if (n == 0 && err) {
    tsvs_throw_errno(env, "uringReadBatch", err);
    return NULL;
  }
  return tsvs_i32(env, n);
#else
  tsvs_throw_errno(env, "uringReadBatch (not built in)", ENOSYS);
  return NULL;
#endif
}

/*
 * uringWriteBatch(ring, fd, buf, meta, count) -> consumed
 *
 * Writes meta entries 0..count-1 into a TUN, up to the ring size per io_uring_enter.
 * Same contract as writeBatch: a packet refused alone gets its errno in word 7 and
 * counts as consumed; the batch stops at the first "would block" / out of buffers.
 */
static napi_value uring_write_batch(napi_env env, napi_callback_info info) {
  TSVS_ARGS(5);
  uring_box *b = arg_ring(env, argv[0]);
  if (!b) return NULL;
  int32_t fd, count;
  uint8_t *buf;
  int32_t *meta;
  size_t buflen, metalen;
  if (tsvs_arg_i32(env, argv[1], &fd) || tsvs_arg_u8(env, argv[2], &buf, &buflen) ||
      tsvs_arg_i32arr(env, argv[3], &meta, &metalen) || tsvs_arg_i32(env, argv[4], &count))
    return NULL;
  if (count < 0 || (size_t)count * META_STRIDE > metalen) {
    tsvs_throw_msg(env, "uringWriteBatch: count exceeds meta");
    return NULL;
  }
  for (int i = 0; i < count; i++) {
    int32_t *m = meta + (size_t)i * META_STRIDE;
    if (m[0] < 0 || m[1] < 0 || (size_t)m[0] + (size_t)m[1] > buflen) {
      tsvs_throw_msg(env, "uringWriteBatch: packet outside the buffer");
      return NULL;
    }
  }
#ifdef TSVS_URING
  int32_t res[URING_MAX];
  int done = 0;
  while (done < count && b->plain_writes) {
    int32_t *m = meta + (size_t)done * META_STRIDE;
    ssize_t w;
    do w = write(fd, buf + m[0], (size_t)m[1]);
    while (w < 0 && errno == EINTR);
    int e = w < 0 ? errno : 0;
    if (e == EAGAIN || e == ENOBUFS) return tsvs_i32(env, done);
    m[7] = e;
    done++;
  }
  while (done < count) {
    int k = count - done;
    if (k > (int)b->u.entries) k = (int)b->u.entries;
    for (int j = 0; j < k; j++) {
      int32_t *m = meta + (size_t)(done + j) * META_STRIDE;
      uring_prep(&b->u, IORING_OP_WRITE, fd, buf + m[0], (unsigned)m[1], (uint64_t)j, 1);
    }
    int r = uring_run(&b->u, (unsigned)k, res);
    if (r < 0) {
      if (done > 0) break;
      tsvs_throw_errno(env, "uringWriteBatch", -r);
      return NULL;
    }
    int j = 0;
    for (; j < k; j++) {
      int32_t *m = meta + (size_t)(done + j) * META_STRIDE;
      int e = res[j] < 0 ? -res[j] : 0;
      if (e == EOPNOTSUPP) {
        /* a kernel whose TUN takes no RWF_NOWAIT: this packet, and from now on every
         * write of this ring, with plain write() (a TUN write does not block) */
        b->plain_writes = 1;
        ssize_t w;
        do w = write(fd, buf + m[0], (size_t)m[1]);
        while (w < 0 && errno == EINTR);
        e = w < 0 ? errno : 0;
      }
      if (e == EAGAIN || e == ENOBUFS) break;
      m[7] = e;
    }
    done += j;
    if (j < k) break;
  }
  return tsvs_i32(env, done);
#else
  (void)buf;
  (void)meta;
  tsvs_throw_errno(env, "uringWriteBatch (not built in)", ENOSYS);
  return NULL;
#endif
}

/* Called from tsvs_native.c's init. */
void tsvs_uring_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"uringOpen", NULL, uring_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"uringReadBatch", NULL, uring_read_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"uringWriteBatch", NULL, uring_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"uringClose", NULL, uring_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
