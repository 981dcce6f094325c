// epoll(7): epoll_create1(2), epoll_ctl(2), epoll_wait(2). epollWait fills a caller-owned Int32Array with
// (token, events) pairs: one JS<->native crossing per batch and no allocation per event.
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

#include "common.h"
#include "fastargs.h"

namespace epollkit {
namespace {

thread_local std::vector<epoll_event> tl_events;

// epoll_wait into `events` (grown to `max`, at most 65536), counted; errno is left as epoll_wait set it.
// The thread's counters and event vector are passed in: each thread_local access from a shared object is a
// __tls_get_addr call.
int WaitInto(Counters& counters, std::vector<epoll_event>& events, int epfd, size_t max, int timeout) {
  if (max > 65536) max = 65536;
  if (events.size() < max) events.resize(max);
  Count(counters, kEpollWait);
  int n = epoll_wait(epfd, events.data(), static_cast<int>(max), timeout);
  if (n >= 0) Count(counters, kEpollEvents, n);
  return n;
}

int WaitInto(int epfd, size_t max, int timeout) {
  return WaitInto(tl_counters, tl_events, epfd, max, timeout);
}

Napi::Value EpollCreate1(const Napi::CallbackInfo& info) {
  int32_t flags;
  if (!ArgIntOr(info, 0, "flags", EPOLL_CLOEXEC, &flags)) return info.Env().Undefined();
  int fd = epoll_create1(flags | EPOLL_CLOEXEC);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "epoll_create1");
  return Napi::Number::New(info.Env(), fd);
}

// epollCtl(epfd, op, fd, events, token = fd). The token comes back from epollWait in place of the fd,
// so a caller may use an index into its own table (as mio does).
Napi::Value EpollCtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t epfd, op, fd, token;
  uint32_t events = 0;
  if (!ArgFd(info, 0, "epfd", &epfd) || !ArgInt(info, 1, "op", &op) || !ArgFd(info, 2, "fd", &fd)) {
    return env.Undefined();
  }
  if (op != EPOLL_CTL_DEL && !ArgMask(info, 3, "events", &events)) return env.Undefined();
  if (!ArgIntOr(info, 4, "token", fd, &token)) return env.Undefined();
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<uint32_t>(token);
  Count(kEpollCtl);
  if (epoll_ctl(epfd, op, fd, &ev) < 0) {
    return ThrowErrno(env, errno, "epoll_ctl", fd);
  }
  return env.Undefined();
}

// epollWait(epfd, events: Int32Array, timeoutMs) -> count, or -errno. A signal delivered to the thread
// makes epoll_wait fail with EINTR (even with SA_RESTART, see signal(7)); it is returned as -EINTR and
// the caller simply waits again.
Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t epfd, timeout;
  int32_t* out;
  size_t len;
  if (!ArgFd(info, 0, "epfd", &epfd) || !ArgInt32Array(info, 1, "events", &out, &len) ||
      !ArgIntOr(info, 2, "timeoutMs", -1, &timeout)) {
    return env.Undefined();
  }
  size_t max = len / 2;
  if (max == 0) return ThrowRange(env, "The \"events\" array must hold at least one (fd, events) pair");
  int n = WaitInto(epfd, max, timeout);
  if (n < 0) return NegErrno(env, errno);
  for (int i = 0; i < n; i++) {
    out[2 * i] = static_cast<int32_t>(tl_events[i].data.u64);
    out[2 * i + 1] = static_cast<int32_t>(tl_events[i].events);
  }
  return Napi::Number::New(env, n);
}

// Hot-path entry: one N-API call per argument, events gathered on the stack for batches up to 256; falls
// back to EpollWait above (same validation and errors) for anything else.
napi_value EpollWaitFast(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  int32_t epfd, timeout;
  napi_typedarray_type type;
  size_t count;
  void* base;
  if (argc < 2 || !FastInt(env, argv[0], &epfd) || epfd < 0 ||
      napi_get_typedarray_info(env, argv[1], &type, &count, &base, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array || count / 2 == 0 || count / 2 > 256 || !FastIntOr(env, argc, argv, 2, -1, &timeout)) {
    Napi::CallbackInfo info(env, cbinfo);
    return EpollWait(info);
  }
  epoll_event events[256];
  Count(kEpollWait);
  int n = epoll_wait(epfd, events, static_cast<int>(count / 2), timeout);
  if (n < 0) return FastNumber(env, -errno);
  Count(kEpollEvents, n);
  int32_t* out = static_cast<int32_t*>(base);
  for (int i = 0; i < n; i++) {
    out[2 * i] = static_cast<int32_t>(events[i].data.u64);
    out[2 * i + 1] = static_cast<int32_t>(events[i].events);
  }
  return FastNumber(env, n);
}

// epollWaitRecv(epfd, events: Int32Array, timeoutMs, prefetch: Uint8Array, buffer, slot) -> count or -errno.
// epoll_wait, then recv(2) for every ready fd that asked for it, in the same crossing: with 50 busy
// keep-alive connections a batch holds ~50 requests, and a crossing per recv was a tenth of a reactor's
// user time. `events` gets (token, mask, result, offset) per event, four int32 each. The token indexes
// `prefetch`: a non-zero byte there (set by the owner of the fd, which must be the token) asks for a recv
// when the event reports input or a hangup (EPOLLIN, EPOLLHUP, EPOLLRDHUP — what a reader would act on).
// Each recv reads at most `slot` bytes into the next free slot of `buffer`; result is its byte count or
// -errno (EAGAIN included), offset where it landed. Events that were not read (not asked, no input, or
// `buffer` full) get result kNotRead. A recv that fills its slot may have left bytes behind: the owner
// reads on as usual.
constexpr int32_t kNotRead = INT32_MIN;

// The reads after the wait: see above. Returns n.
int RecvReady(Counters& counters, const epoll_event* ready, int n, int32_t* out, const uint8_t* prefetch,
              size_t prefetch_len, uint8_t* buffer, size_t buffer_len, size_t slot) {
  size_t used = 0;
  const uint32_t input = EPOLLIN | EPOLLHUP | EPOLLRDHUP;
  for (int i = 0; i < n; i++) {
    uint32_t token = static_cast<uint32_t>(ready[i].data.u64);
    uint32_t events = ready[i].events;
    int32_t* e = out + 4 * i;
    e[0] = static_cast<int32_t>(token);
    e[1] = static_cast<int32_t>(events);
    e[2] = kNotRead;
    e[3] = 0;
    if (token >= prefetch_len || prefetch[token] == 0 || (events & input) == 0 || buffer_len - used < slot) continue;
    Count(counters, kRecv);
    int32_t got = CountedResult(counters, kRecvBytes, recv(static_cast<int>(token), buffer + used, slot, 0));
    e[2] = got;
    if (got < 0) continue;
    e[3] = static_cast<int32_t>(used);
    used += static_cast<size_t>(got);
  }
  return n;
}

Napi::Value EpollWaitRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t epfd, timeout, slot;
  int32_t* out;
  size_t len, prefetch_len, buffer_len;
  uint8_t *prefetch, *buffer;
  if (!ArgFd(info, 0, "epfd", &epfd) || !ArgInt32Array(info, 1, "events", &out, &len) ||
      !ArgIntOr(info, 2, "timeoutMs", -1, &timeout) || !ArgView(info, 3, "prefetch", &prefetch, &prefetch_len) ||
      !ArgView(info, 4, "buffer", &buffer, &buffer_len) || !ArgInt(info, 5, "slot", &slot)) {
    return env.Undefined();
  }
  if (len / 4 == 0) return ThrowRange(env, "The \"events\" array must hold at least one (token, mask, result, offset) entry");
  if (slot <= 0) return ThrowRange(env, "The \"slot\" argument must be > 0");
  int n = WaitInto(epfd, len / 4, timeout);
  if (n < 0) return NegErrno(env, errno);
  return Napi::Number::New(env, RecvReady(tl_counters, tl_events.data(), n, out, prefetch, prefetch_len, buffer, buffer_len,
                                          static_cast<size_t>(slot)));
}

// Hot-path entry, once per round of a busy reactor (a round serves ~3 requests at 50 connections, so the
// node-addon-api argument checks above were a visible share): raw N-API reads, falling back to
// EpollWaitRecv (same validation and errors) for anything unexpected.
napi_value EpollWaitRecvFast(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  int32_t epfd, timeout, slot;
  void *out, *prefetch, *buffer;
  size_t len, prefetch_len, buffer_len;
  if (argc < 6 || !FastInt(env, argv[0], &epfd) || epfd < 0 || !FastArray(env, argv[1], napi_int32_array, &out, &len) ||
      len / 4 == 0 || !FastInt(env, argv[2], &timeout) || !FastArray(env, argv[3], napi_uint8_array, &prefetch, &prefetch_len) ||
      !FastArray(env, argv[4], napi_uint8_array, &buffer, &buffer_len) || !FastInt(env, argv[5], &slot) || slot <= 0) {
    Napi::CallbackInfo info(env, cbinfo);
    return EpollWaitRecv(info);
  }
  int n = WaitInto(epfd, len / 4, timeout);
  if (n < 0) return FastNumber(env, -errno);
  return FastNumber(env, RecvReady(tl_counters, tl_events.data(), n, static_cast<int32_t*>(out),
                                   static_cast<uint8_t*>(prefetch), prefetch_len, static_cast<uint8_t*>(buffer), buffer_len,
                                   static_cast<size_t>(slot)));
}

// epollWaitRecvBind(events, prefetch, buffer) -> function (epfd, timeoutMs, slot) -> count or -errno: the
// same call as epollWaitRecv with its three arrays fixed, for the loop that makes it every round. The
// thread's counters are looked up once, here: the function belongs to this thread's environment.
struct WaitRecvBinding {
  int32_t* out;
  size_t max;  // events that fit in `out`
  uint8_t* prefetch;
  size_t prefetch_len;
  uint8_t* buffer;
  size_t buffer_len;
  Counters* counters;
  std::vector<epoll_event> events;
};

napi_value BoundWaitRecv(napi_env env, napi_callback_info cbinfo) {
  size_t argc;
  napi_value argv[3];
  auto* b = BoundCall<WaitRecvBinding>(env, cbinfo, &argc, argv);
  int32_t epfd, timeout, slot;
  if (argc < 3 || !FastInt(env, argv[0], &epfd) || epfd < 0 || !FastIntOr(env, argc, argv, 1, -1, &timeout) ||
      !FastInt(env, argv[2], &slot) || slot <= 0) {
    Napi::CallbackInfo info(env, cbinfo);
    if (ArgFd(info, 0, "epfd", &epfd) && ArgIntOr(info, 1, "timeoutMs", -1, &timeout) && ArgInt(info, 2, "slot", &slot)) {
      ThrowRange(info.Env(), "The \"slot\" argument must be > 0");
    }
    return nullptr;
  }
  int n = WaitInto(*b->counters, b->events, epfd, b->max, timeout);
  if (n < 0) return FastNumber(env, -errno);
  return FastNumber(env, RecvReady(*b->counters, b->events.data(), n, b->out, b->prefetch, b->prefetch_len, b->buffer,
                                   b->buffer_len, static_cast<size_t>(slot)));
}

Napi::Value EpollWaitRecvBind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* b = new WaitRecvBinding();
  size_t len;
  if (!ArgInt32Array(info, 0, "events", &b->out, &len) || !ArgView(info, 1, "prefetch", &b->prefetch, &b->prefetch_len) ||
      !ArgView(info, 2, "buffer", &b->buffer, &b->buffer_len)) {
    delete b;
    return env.Undefined();
  }
  b->max = len / 4;
  if (b->max == 0) {
    delete b;
    return ThrowRange(env, "The \"events\" array must hold at least one (token, mask, result, offset) entry");
  }
  b->counters = &tl_counters;
  static const char* const names[] = {"events", "prefetch", "buffer"};
  napi_value arrays[] = {info[0], info[1], info[2]};
  napi_value fn = NewBoundFunction(env, "epollWaitRecv", BoundWaitRecv, b, names, arrays, 3);
  return fn == nullptr ? env.Undefined() : Napi::Value(env, fn);
}

}  // namespace

void InitEpoll(Napi::Env env, Napi::Object exports) {
  EPK_FN(exports, "epollCreate1", EpollCreate1);
  EPK_FN(exports, "epollCtl", EpollCtl);
  EPK_FN(exports, "epollWaitRecvBind", EpollWaitRecvBind);
  exports.Set("EPOLL_NOT_READ", Napi::Number::New(env, kNotRead));
  {
    napi_value fn;
    napi_create_function(env, "epollWait", NAPI_AUTO_LENGTH, EpollWaitFast, nullptr, &fn);
    exports.Set("epollWait", fn);
    napi_create_function(env, "epollWaitRecv", NAPI_AUTO_LENGTH, EpollWaitRecvFast, nullptr, &fn);
    exports.Set("epollWaitRecv", fn);
  }
  EPK_CONST(exports, EPOLL_CLOEXEC);
  EPK_CONST(exports, EPOLL_CTL_ADD);
  EPK_CONST(exports, EPOLL_CTL_MOD);
  EPK_CONST(exports, EPOLL_CTL_DEL);
  EPK_CONST(exports, EPOLLIN);
  EPK_CONST(exports, EPOLLOUT);
  EPK_CONST(exports, EPOLLPRI);
  EPK_CONST(exports, EPOLLERR);
  EPK_CONST(exports, EPOLLHUP);
  EPK_CONST(exports, EPOLLRDHUP);
  EPK_CONST(exports, EPOLLONESHOT);
  EPK_CONST(exports, EPOLLEXCLUSIVE);
  EPK_CONST(exports, EPOLLWAKEUP);
  // EPOLLET is 1u << 31: exported as the unsigned value, so `mask >>> 0` comparisons hold in JS.
  exports.Set("EPOLLET", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(EPOLLET))));
}

}  // namespace epollkit
