{
  "targets": [
    {
      "target_name": "epollkit",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/address.cc",
        "native/counters.cc",
        "native/epoll.cc",
        "native/poll.cc",
        "native/select.cc",
        "native/socket.cc",
        "native/process.cc",
        "native/watch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
