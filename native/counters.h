// Per-thread counts of the addon's own syscalls; the labs are built on them, so every counted call site
// increments exactly once per syscall made (checked against `strace -c` by the labs).
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstdint>
#include <sys/types.h>

namespace epollkit {

// Order is the order of COUNTER_NAMES exported to JS; append only.
enum Counter : int {
  kEpollWait, kEpollEvents, kEpollCtl, kAccept4, kRecv, kRecvBytes, kSend, kSendBytes, kRecvfrom,
  kSendto, kWritev, kSendfile, kSendfileBytes, kPoll, kSelect, kEagain, kCounterCount
};

struct Counters {
  bool enabled = true;
  double values[kCounterCount] = {};
};

extern thread_local Counters tl_counters;

inline void Count(Counter c, double n = 1) {
  if (tl_counters.enabled) tl_counters.values[c] += n;
}

// For loops over a batch: the thread's counters looked up once (each tl_counters access from a shared
// object is a __tls_get_addr call, about 2% of a busy reactor's user time at four per request).
inline void Count(Counters& counters, Counter c, double n = 1) {
  if (counters.enabled) counters.values[c] += n;
}

// A counted call's result as the batch calls report it: the byte count (added to `bytes`), or -errno (an
// EAGAIN counted). Read errno right after the call.
inline int32_t CountedResult(Counters& counters, Counter bytes, ssize_t n) {
  if (n < 0) {
    if (errno == EAGAIN) Count(counters, kEagain);
    return -errno;
  }
  Count(counters, bytes, static_cast<double>(n));
  return static_cast<int32_t>(n);
}

void InitCounters(Napi::Env env, Napi::Object exports);

}  // namespace epollkit
