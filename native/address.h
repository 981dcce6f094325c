// Socket addresses between JS ("127.0.0.1", 7070 / "::1", 80 / "/tmp/sock", "\0abstract") and sockaddr.
#pragma once
#include <sys/socket.h>

#include <napi.h>
#include <string>

#include "errors.h"

namespace epollkit {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// Parses `host`/`port` for a socket of `domain` (AF_INET, AF_INET6, AF_UNIX; 0 = infer from the text).
// An IPv4 literal on an AF_INET6 socket becomes the v4-mapped address. Returns false and fills
// `error` with a message when the text is not an address of that family.
bool ParseAddress(int domain, const std::string& host, int port, SockAddr* out, std::string* error);
// Reads host and port arguments at info[i], info[i + 1] into `out`; on failure a TypeError is pending.
bool ArgAddress(const Napi::CallbackInfo& info, size_t i, int domain, SockAddr* out, ErrorExtra* extra);
// Writes {family, address, port} into `target` (family is 'IPv4', 'IPv6' or 'unix', as in Node).
void FormatAddress(const sockaddr* sa, socklen_t len, Napi::Object target);

}  // namespace epollkit
