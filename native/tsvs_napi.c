/* tsvs native: shared N-API helpers (see tsvs_napi.h). */
#define _GNU_SOURCE
#include "tsvs_napi.h"

#include <stdio.h>
#include <string.h>

void tsvs_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(err), name ? name : "?");
  napi_value code, message, error, errnum, syscall;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
}

void tsvs_throw_msg(napi_env env, const char *msg) { napi_throw_type_error(env, NULL, msg); }

int tsvs_arg_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    tsvs_throw_msg(env, "tsvs_native: expected a number");
    return -1;
  }
  return 0;
}

int tsvs_arg_str(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok) {
    tsvs_throw_msg(env, "tsvs_native: expected a string");
    return -1;
  }
  return 0;
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                 const char *what) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != want) {
    tsvs_throw_msg(env, what);
    return -1;
  }
  return 0;
}

int tsvs_arg_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  void *p;
  if (typed(env, v, napi_uint8_array, &p, len, "tsvs_native: expected a Uint8Array")) return -1;
  *data = p;
  return 0;
}

int tsvs_arg_i32arr(napi_env env, napi_value v, int32_t **data, size_t *len) {
  void *p;
  if (typed(env, v, napi_int32_array, &p, len, "tsvs_native: expected an Int32Array")) return -1;
  *data = p;
  return 0;
}

napi_value tsvs_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}
