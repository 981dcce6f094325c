// poll(2) over a caller-owned Int32Array of (fd, events, revents) triples; revents are written back in
// place, so a loop can keep one array and one crossing per wait.
#include <errno.h>
#include <poll.h>

#include <vector>

#include "common.h"

namespace epollkit {
namespace {

thread_local std::vector<pollfd> tl_fds;

// poll(fds: Int32Array, nfds, timeoutMs) -> count of entries with revents != 0, or -errno (-EINTR when a
// signal arrived). An entry with a negative fd is ignored by the kernel and gets revents 0.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* triples;
  size_t len;
  int32_t nfds, timeout;
  if (!ArgInt32Array(info, 0, "fds", &triples, &len)) return env.Undefined();
  if (!ArgIntOr(info, 1, "nfds", static_cast<int32_t>(len / 3), &nfds) ||
      !ArgIntOr(info, 2, "timeoutMs", -1, &timeout)) {
    return env.Undefined();
  }
  if (nfds < 0 || static_cast<size_t>(nfds) * 3 > len) {
    return ThrowRange(env, "The value of \"nfds\" exceeds the triples in \"fds\"");
  }
  if (tl_fds.size() < static_cast<size_t>(nfds)) tl_fds.resize(nfds);
  for (int32_t i = 0; i < nfds; i++) {
    tl_fds[i].fd = triples[3 * i];
    tl_fds[i].events = static_cast<short>(triples[3 * i + 1]);
    tl_fds[i].revents = 0;
  }
  Count(kPoll);
  int n = poll(tl_fds.data(), static_cast<nfds_t>(nfds), timeout);
  if (n < 0) return NegErrno(env, errno);
  for (int32_t i = 0; i < nfds; i++) triples[3 * i + 2] = static_cast<uint16_t>(tl_fds[i].revents);
  return Napi::Number::New(env, n);
}

}  // namespace

void InitPoll(Napi::Env env, Napi::Object exports) {
  EPK_FN(exports, "poll", Poll);
  EPK_CONST(exports, POLLIN);
  EPK_CONST(exports, POLLPRI);
  EPK_CONST(exports, POLLOUT);
  EPK_CONST(exports, POLLERR);
  EPK_CONST(exports, POLLHUP);
  EPK_CONST(exports, POLLNVAL);
  EPK_CONST(exports, POLLRDHUP);
}

}  // namespace epollkit
