/*
 * tsvs native: the N-API helpers every part of the shim shares (tsvs_native.c,
 * tsvs_uring.c, tsvs_bpf.c) — errors thrown as JS Errors named by errno, and typed
 * argument readers that throw a TypeError and return -1 on a wrong type.
 */
#ifndef TSVS_NAPI_H
#define TSVS_NAPI_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Throws an Error: code = errno name (EBUSY), message "what: text (EBUSY)",
 * errno = -err (as Node's own errors), syscall = what. */
void tsvs_throw_errno(napi_env env, const char *what, int err);
/* Throws a TypeError with message msg. */
void tsvs_throw_msg(napi_env env, const char *msg);

int tsvs_arg_i32(napi_env env, napi_value v, int32_t *out);
int tsvs_arg_str(napi_env env, napi_value v, char *out, size_t cap);
/* A Uint8Array (or Buffer): pointer and length in bytes. */
int tsvs_arg_u8(napi_env env, napi_value v, uint8_t **data, size_t *len);
/* An Int32Array: pointer and element count. */
int tsvs_arg_i32arr(napi_env env, napi_value v, int32_t **data, size_t *len);
napi_value tsvs_i32(napi_env env, int32_t v);

#define TSVS_MAX_ARGS 8
/* Declares argc/argv for a callback taking at least n arguments; returns NULL (with a
 * TypeError pending) when fewer came. */
#define TSVS_ARGS(n)                                                                     \
  size_t argc = TSVS_MAX_ARGS;                                                           \
  napi_value argv[TSVS_MAX_ARGS];                                                        \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;      \
  if (argc < (n)) {                                                                      \
    tsvs_throw_msg(env, "tsvs_native: too few arguments");                               \
    return NULL;                                                                         \
  }

#endif
