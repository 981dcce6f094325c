// select(2). An fd_set is a fixed bitmap of FD_SETSIZE (1024) bits: FD_SET on a larger fd writes past it
// (undefined behaviour, see BUGS in select(2)), so every fd is checked before any set is touched.
#include <errno.h>
#include <sys/select.h>

#include <string>

#include "common.h"

namespace epollkit {
namespace {

bool FillSet(const Napi::CallbackInfo& info, size_t i, const char* name, fd_set* set, int32_t** fds,
             size_t* count, int* maxfd) {
  FD_ZERO(set);
  *count = 0;
  *fds = nullptr;
  if (info[i].IsUndefined() || info[i].IsNull()) return true;
  if (!ArgInt32Array(info, i, name, fds, count)) return false;
  for (size_t k = 0; k < *count; k++) {
    int32_t fd = (*fds)[k];
    if (fd < 0 || fd >= FD_SETSIZE) {
      ThrowMisuse(info.Env(), "ERR_EPOLLKIT_FD_SETSIZE",
                  "select() cannot watch fd " + std::to_string(fd) + ": fds must be in 0.." +
                      std::to_string(FD_SETSIZE - 1) + " (FD_SETSIZE); use poll or epoll",
                  true);
      return false;
    }
  }
  for (size_t k = 0; k < *count; k++) {
    FD_SET((*fds)[k], set);
    if ((*fds)[k] > *maxfd) *maxfd = (*fds)[k];
  }
  return true;
}

// Like select(2)'s own value-result sets: the ready fds of each array are moved to its front, in order,
// and their numbers are written to readyCounts[0..2].
int32_t Compact(int32_t* fds, size_t count, fd_set* set) {
  int32_t ready = 0;
  for (size_t k = 0; k < count; k++) {
    if (FD_ISSET(fds[k], set)) {
      int32_t fd = fds[k];
      fds[k] = fds[ready];
      fds[ready++] = fd;
    }
  }
  return ready;
}

// select(readFds, writeFds, exceptFds, timeoutMs, readyCounts: Int32Array(3)) -> total ready, or -errno.
Napi::Value Select(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  fd_set sets[3];
  int32_t* fds[3];
  size_t counts[3];
  int maxfd = -1;
  int32_t timeout;
  int32_t* ready;
  size_t ready_len;
  static const char* const names[3] = {"readFds", "writeFds", "exceptFds"};
  for (size_t s = 0; s < 3; s++) {
    if (!FillSet(info, s, names[s], &sets[s], &fds[s], &counts[s], &maxfd)) return env.Undefined();
  }
  if (!ArgIntOr(info, 3, "timeoutMs", -1, &timeout) || !ArgInt32Array(info, 4, "readyCounts", &ready, &ready_len)) {
    return env.Undefined();
  }
  if (ready_len < 3) return ThrowRange(env, "The \"readyCounts\" array must have 3 elements");
  timeval tv{timeout / 1000, (timeout % 1000) * 1000};
  Count(kSelect);
  int n = select(maxfd + 1, &sets[0], &sets[1], &sets[2], timeout < 0 ? nullptr : &tv);
  if (n < 0) return NegErrno(env, errno);
  for (size_t s = 0; s < 3; s++) ready[s] = fds[s] ? Compact(fds[s], counts[s], &sets[s]) : 0;
  return Napi::Number::New(env, n);
}

}  // namespace

void InitSelect(Napi::Env env, Napi::Object exports) {
  EPK_FN(exports, "select", Select);
  EPK_CONST(exports, FD_SETSIZE);
}

}  // namespace epollkit
