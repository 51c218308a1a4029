{
  "targets": [
    {
      "target_name": "shim",
      "sources": ["shim.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
