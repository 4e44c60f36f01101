{
  "targets": [
    {
      "target_name": "tsvs_native",
      "sources": ["native/tsvs_native.c", "native/tsvs_uring.c", "native/tsvs_bpf.c", "native/tsvs_napi.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
