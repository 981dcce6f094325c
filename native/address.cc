#include "address.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

namespace epollkit {

bool ParseAddress(int domain, const std::string& host, int port, SockAddr* out, std::string* error) {
  if (domain == 0) {
    if (host.find(':') != std::string::npos) domain = AF_INET6;
    else if (!host.empty() && host[0] != '/' && host[0] != '\0' && host.find('/') == std::string::npos &&
             host.find_first_not_of("0123456789.") == std::string::npos) domain = AF_INET;
    else domain = AF_UNIX;
  }
  *out = SockAddr{};
  if (domain == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(&out->storage);
    if (host.empty() || host.size() >= sizeof(un->sun_path)) {
      *error = "an AF_UNIX path must have 1.." + std::to_string(sizeof(un->sun_path) - 1) + " bytes";
      return false;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, host.data(), host.size());
    // A leading NUL names the abstract namespace (unix(7)): its length is exact, with no terminator.
    out->len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + host.size() + (host[0] == '\0' ? 0 : 1));
    return true;
  }
  if (port < 0 || port > 65535) {
    *error = "port must be in 0..65535";
    return false;
  }
  if (domain == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out->storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
      *error = "\"" + host + "\" is not an IPv4 address";
      return false;
    }
    out->len = sizeof(sockaddr_in);
    return true;
  }
  if (domain == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    std::string text = host;
    size_t pct = text.find('%');
    if (pct != std::string::npos) {
      in6->sin6_scope_id = if_nametoindex(text.c_str() + pct + 1);
      text.resize(pct);
    }
    if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) != 1) {
      in_addr v4;
      if (inet_pton(AF_INET, text.c_str(), &v4) != 1) {
        *error = "\"" + host + "\" is not an IPv6 address";
        return false;
      }
      in6->sin6_addr.s6_addr[10] = 0xff;
      in6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&in6->sin6_addr.s6_addr[12], &v4, 4);
    }
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  *error = "unsupported address family " + std::to_string(domain);
  return false;
}

bool ArgAddress(const Napi::CallbackInfo& info, size_t i, int domain, SockAddr* out, ErrorExtra* extra) {
  std::string host, error;
  int32_t port = 0;
  if (!ArgString(info, i, "address", &host)) return false;
  if (domain != AF_UNIX && !(domain == 0 && (host[0] == '/' || host[0] == '\0'))) {
    if (!ArgInt(info, i + 1, "port", &port)) return false;
  }
  if (!ParseAddress(domain, host, port, out, &error)) {
    ThrowMisuse(info.Env(), "ERR_INVALID_ADDRESS", "Invalid address: " + error);
    return false;
  }
  if (out->storage.ss_family == AF_UNIX) {
    extra->path = host;
  } else {
    extra->address = host;
    extra->port = port;
  }
  return true;
}

void FormatAddress(const sockaddr* sa, socklen_t len, Napi::Object target) {
  Napi::Env env = target.Env();
  char text[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    target.Set("family", "IPv4");
    target.Set("address", text);
    target.Set("port", Napi::Number::New(env, ntohs(in->sin_port)));
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    target.Set("family", "IPv6");
    target.Set("address", text);
    target.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
  } else if (sa->sa_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    // Pathname sockets carry a terminating NUL; abstract ones start with one and are exactly n bytes.
    if (n > 0 && un->sun_path[0] != '\0') n = strnlen(un->sun_path, n);
    target.Set("family", "unix");
    target.Set("address", Napi::String::New(env, un->sun_path, n));
  } else {
    target.Set("family", Napi::Number::New(env, sa->sa_family));
  }
}

}  // namespace epollkit
