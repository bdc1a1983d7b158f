{
  "targets": [
    {
      "target_name": "patronus_wanopt",
      "sources": ["src/addon.cc", "src/cdc.cc", "src/transparent.cc", "src/tun.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-lcrypto"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-O2"],
      "cflags_cc": ["-std=gnu++20", "-O3", "-fexceptions", "-Wall", "-Wextra"]
    }
  ]
}
