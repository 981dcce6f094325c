// socket(7), tcp(7), unix(7): creation, addresses, nonblocking data transfer, options, sendfile(2),
// eventfd(2). Data calls (accept4, recv, send, recvfrom, sendto, writev, sendfile) are the hot path: they
// return a count or -errno and never throw for EAGAIN. Every fd is created CLOEXEC; send always adds
// MSG_NOSIGNAL, because a peer that went away must give EPIPE, not kill the process (Node ignores
// SIGPIPE, but a forked child or an embedder may not).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <vector>

#include "address.h"
#include "common.h"
#include "fastargs.h"

namespace epollkit {
namespace {

int SocketDomain(int fd) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -errno;
  return domain;
}

Napi::Value Socket(const Napi::CallbackInfo& info) {
  int32_t domain, type, protocol;
  if (!ArgInt(info, 0, "domain", &domain) || !ArgInt(info, 1, "type", &type) ||
      !ArgIntOr(info, 2, "protocol", 0, &protocol)) {
    return info.Env().Undefined();
  }
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

// bind(fd, address, port) and connect(fd, address, port): the socket's own domain decides how the text
// is read, so "127.0.0.1" on an AF_INET6 socket is its v4-mapped form.
template <bool kConnect>
Napi::Value BindOrConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* syscall = kConnect ? "connect" : "bind";
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return env.Undefined();
  int domain = SocketDomain(fd);
  ErrorExtra extra;
  extra.fd = fd;
  if (domain < 0) return ThrowErrno(env, -domain, syscall, extra);
  SockAddr addr;
  if (!ArgAddress(info, 1, domain, &addr, &extra)) return env.Undefined();
  int rc = kConnect ? connect(fd, addr.get(), addr.len) : bind(fd, addr.get(), addr.len);
  if (rc < 0) {
    // A nonblocking connect in progress is normal life: EINPROGRESS (TCP) or EAGAIN (AF_UNIX, full backlog).
    if (kConnect && (errno == EINPROGRESS || errno == EAGAIN)) return NegErrno(env, errno);
    return ThrowErrno(env, errno, syscall, extra);
  }
  return Napi::Number::New(env, 0);
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int32_t fd, backlog;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgIntOr(info, 1, "backlog", 511, &backlog)) return info.Env().Undefined();
  if (listen(fd, backlog) < 0) {
    ErrorExtra extra;
    extra.fd = fd;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      Napi::Object a = Napi::Object::New(info.Env());
      FormatAddress(reinterpret_cast<sockaddr*>(&ss), len, a);
      extra.address = a.Get("address").ToString().Utf8Value();
      if (a.Get("port").IsNumber()) extra.port = a.Get("port").As<Napi::Number>().Int32Value();
    }
    return ThrowErrno(info.Env(), errno, "listen", extra);
  }
  return info.Env().Undefined();
}

// accept4(fd, flags = SOCK_NONBLOCK, peer?) -> new fd or -errno. When `peer` is an object it receives
// {family, address, port}; without it no address is copied out (the fast path).
Napi::Value Accept4(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, flags;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgIntOr(info, 1, "flags", SOCK_NONBLOCK, &flags)) return env.Undefined();
  bool want_peer = info[2].IsObject();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  Count(kAccept4);
  int cfd = accept4(fd, want_peer ? reinterpret_cast<sockaddr*>(&ss) : nullptr, want_peer ? &len : nullptr,
                    flags | SOCK_CLOEXEC);
  if (cfd < 0) return NegErrno(env, errno);
  if (want_peer) FormatAddress(reinterpret_cast<sockaddr*>(&ss), len, info[2].As<Napi::Object>());
  return Napi::Number::New(env, cfd);
}

// recv(fd, buf, offset?, length?, flags?) -> bytes (0 at EOF) or -errno; send(...) the same -> bytes written
// (maybe fewer than asked) or -errno. The node-addon-api form, which throws the usual errors: RecvSendFast
// below falls back to it for any argument it does not take.
template <bool kIsSend>
Napi::Value RecvSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, flags;
  uint8_t* data;
  size_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "buffer", &data, &len) ||
      !ArgIntOr(info, 4, "flags", 0, &flags)) {
    return env.Undefined();
  }
  Count(kIsSend ? kSend : kRecv);
  ssize_t n = kIsSend ? send(fd, data, len, flags | MSG_NOSIGNAL) : recv(fd, data, len, flags);
  if (n < 0) return NegErrno(env, errno);
  Count(kIsSend ? kSendBytes : kRecvBytes, static_cast<double>(n));
  return Napi::Number::New(env, static_cast<double>(n));
}

// The hot-path entries: raw N-API callbacks that read their arguments with one call each and fall back to
// RecvSend above (same validation, same errors) for anything the fast readers do not accept.
template <bool kIsSend>
napi_value RecvSendFast(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  int32_t fd, flags;
  uint8_t* data;
  size_t len;
  if (argc < 1 || !FastInt(env, argv[0], &fd) || fd < 0 || !FastBytes(env, argc, argv, 1, &data, &len) ||
      !FastIntOr(env, argc, argv, 4, 0, &flags)) {
    Napi::CallbackInfo info(env, cbinfo);
    return RecvSend<kIsSend>(info);
  }
  Count(kIsSend ? kSend : kRecv);
  ssize_t n = kIsSend ? send(fd, data, len, flags | MSG_NOSIGNAL) : recv(fd, data, len, flags);
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN) Count(kEagain);
    return FastNumber(env, -err);
  }
  Count(kIsSend ? kSendBytes : kRecvBytes, static_cast<double>(n));
  return FastNumber(env, static_cast<double>(n));
}

// recvfrom(fd, buf, offset?, length?, peer?) -> bytes or -errno; `peer` receives the sender's address.
Napi::Value Recvfrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t* data;
  size_t len;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "buffer", &data, &len)) return env.Undefined();
  bool want_peer = info[4].IsObject();
  sockaddr_storage ss{};
  socklen_t slen = sizeof(ss);
  Count(kRecvfrom);
  ssize_t n = recvfrom(fd, data, len, 0, want_peer ? reinterpret_cast<sockaddr*>(&ss) : nullptr,
                       want_peer ? &slen : nullptr);
  if (n < 0) return NegErrno(env, errno);
  Count(kRecvBytes, static_cast<double>(n));
  // A connected stream socket reports no address (slen 0): leave `peer` untouched rather than invent one.
  if (want_peer && slen >= sizeof(sa_family_t)) FormatAddress(reinterpret_cast<sockaddr*>(&ss), slen, info[4].As<Napi::Object>());
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendto(fd, buf, offset, length, address, port) -> bytes or -errno. The family is read from the text
// (":" means IPv6, a dotted quad IPv4, anything else an AF_UNIX path) to spare a syscall per datagram.
Napi::Value Sendto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t* data;
  size_t len;
  SockAddr addr;
  ErrorExtra extra;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgBytes(info, 1, "buffer", &data, &len) ||
      !ArgAddress(info, 4, 0, &addr, &extra)) {
    return env.Undefined();
  }
  Count(kSendto);
  ssize_t n = sendto(fd, data, len, MSG_NOSIGNAL, addr.get(), addr.len);
  if (n < 0) return NegErrno(env, errno);
  Count(kSendBytes, static_cast<double>(n));
  return Napi::Number::New(env, static_cast<double>(n));
}

thread_local std::vector<iovec> tl_iov;

// writev(fd, buffers: ArrayBufferView[]) -> bytes or -errno; one syscall for a header and a body.
Napi::Value Writev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return env.Undefined();
  if (!info[1].IsArray()) return ThrowType(env, "The \"buffers\" argument must be an array of Buffers");
  Napi::Array list = info[1].As<Napi::Array>();
  uint32_t count = list.Length();
  if (count > IOV_MAX) return ThrowRange(env, "writev takes at most " + std::to_string(IOV_MAX) + " buffers");
  tl_iov.resize(count);
  for (uint32_t k = 0; k < count; k++) {
    napi_value v = list.Get(k);
    bool is_view = false;
    if (napi_is_typedarray(env, v, &is_view) != napi_ok || !is_view) {
      return ThrowType(env, "The \"buffers\" argument must be an array of Buffers");
    }
    napi_get_buffer_info(env, v, &tl_iov[k].iov_base, &tl_iov[k].iov_len);
  }
  Count(kWritev);
  // writev(2) cannot take MSG_NOSIGNAL; sendmsg with the same iovec can. Pipes and files still use writev.
  msghdr msg{};
  msg.msg_iov = tl_iov.data();
  msg.msg_iovlen = count;
  ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = writev(fd, tl_iov.data(), static_cast<int>(count));
  if (n < 0) return NegErrno(env, errno);
  Count(kSendBytes, static_cast<double>(n));
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendBatch(list: Int32Array, count, buffer) -> count: send(2) for each of `count` entries of `list`, four
// int32 each (fd, offset, length, after): `length` bytes of `buffer` from `offset` to `fd`, the byte
// count or -errno written over `after`. A reactor gathers a round's replies and sends them in one
// crossing (the counterpart of epollWaitRecv). `after` is -1, or the index of an earlier entry for the
// same fd: unless that one was sent whole, this one is not sent (-EAGAIN), so that a short send is never
// followed by a later part of the same stream. An entry with a negative fd (cancelled) gets -EBADF.
void SendEntries(Counters& counters, int32_t* list, int32_t count, const uint8_t* buffer, size_t buffer_len) {
  for (int32_t i = 0; i < count; i++) {
    int32_t* e = list + 4 * i;
    int32_t after = e[3];
    if (e[0] < 0) {
      e[3] = -EBADF;
      continue;
    }
    if (e[1] < 0 || e[2] < 0 || static_cast<size_t>(e[1]) + static_cast<size_t>(e[2]) > buffer_len || after >= i) {
      e[3] = -EINVAL;
      continue;
    }
    if (after >= 0 && list[4 * after + 3] != list[4 * after + 2]) {
      e[3] = -EAGAIN;
      continue;
    }
    Count(counters, kSend);
    e[3] = CountedResult(counters, kSendBytes, send(e[0], buffer + e[1], static_cast<size_t>(e[2]), MSG_NOSIGNAL));
  }
}

Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t* list;
  size_t list_len, buffer_len;
  int32_t count;
  uint8_t* buffer;
  if (!ArgInt32Array(info, 0, "list", &list, &list_len) || !ArgInt(info, 1, "count", &count) ||
      !ArgView(info, 2, "buffer", &buffer, &buffer_len)) {
    return env.Undefined();
  }
  if (count < 0 || static_cast<size_t>(count) > list_len / 4) {
    return ThrowRange(env, "The \"count\" argument must be between 0 and list.length / 4");
  }
  SendEntries(tl_counters, list, count, buffer, buffer_len);
  return Napi::Number::New(env, count);
}

// Hot-path entry (once per busy round): raw N-API reads, falling back to SendBatch for anything unexpected.
napi_value SendBatchFast(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  void *list, *buffer;
  size_t list_len, buffer_len;
  int32_t count;
  if (argc < 3 || !FastArray(env, argv[0], napi_int32_array, &list, &list_len) || !FastInt(env, argv[1], &count) ||
      count < 0 || static_cast<size_t>(count) > list_len / 4 || !FastArray(env, argv[2], napi_uint8_array, &buffer, &buffer_len)) {
    Napi::CallbackInfo info(env, cbinfo);
    return SendBatch(info);
  }
  SendEntries(tl_counters, static_cast<int32_t*>(list), count, static_cast<uint8_t*>(buffer), buffer_len);
  return FastNumber(env, count);
}

// sendBatchBind(list, buffer) -> function (count) -> count: sendBatch with its two arrays fixed, for the
// loop that flushes every round (see NewBoundFunction).
struct SendBinding {
  int32_t* list;
  size_t max;  // entries that fit in `list`
  uint8_t* buffer;
  size_t buffer_len;
  Counters* counters;
};

napi_value BoundSendBatch(napi_env env, napi_callback_info cbinfo) {
  size_t argc;
  napi_value argv[1];
  auto* b = BoundCall<SendBinding>(env, cbinfo, &argc, argv);
  int32_t count;
  if (argc < 1 || !FastInt(env, argv[0], &count) || count < 0 || static_cast<size_t>(count) > b->max) {
    Napi::CallbackInfo info(env, cbinfo);
    if (ArgInt(info, 0, "count", &count)) ThrowRange(info.Env(), "The \"count\" argument must be between 0 and list.length / 4");
    return nullptr;
  }
  SendEntries(*b->counters, b->list, count, b->buffer, b->buffer_len);
  return FastNumber(env, count);
}

Napi::Value SendBatchBind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* b = new SendBinding();
  size_t len;
  if (!ArgInt32Array(info, 0, "list", &b->list, &len) || !ArgView(info, 1, "buffer", &b->buffer, &b->buffer_len)) {
    delete b;
    return env.Undefined();
  }
  b->max = len / 4;
  b->counters = &tl_counters;
  static const char* const names[] = {"list", "buffer"};
  napi_value arrays[] = {info[0], info[1]};
  napi_value fn = NewBoundFunction(env, "sendBatch", BoundSendBatch, b, names, arrays, 2);
  return fn == nullptr ? env.Undefined() : Napi::Value(env, fn);
}

// sendfile(outFd, inFd, offset, count) -> bytes or -errno. The offset is explicit, so the file's own
// position is never moved and one open file can serve many connections.
Napi::Value Sendfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t out_fd, in_fd;
  double offset, count;
  if (!ArgFd(info, 0, "outFd", &out_fd) || !ArgFd(info, 1, "inFd", &in_fd) ||
      !ArgDouble(info, 2, "offset", &offset) || !ArgDouble(info, 3, "count", &count)) {
    return env.Undefined();
  }
  if (!(offset >= 0 && offset <= 9007199254740991.0) || !(count >= 0)) {
    return ThrowRange(env, "sendfile offset and count must be >= 0");
  }
  off_t off = static_cast<off_t>(offset);
  Count(kSendfile);
  ssize_t n = sendfile(out_fd, in_fd, &off, static_cast<size_t>(count > 0x7ffff000 ? 0x7ffff000 : count));
  if (n < 0) return NegErrno(env, errno);
  Count(kSendfileBytes, static_cast<double>(n));
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int32_t fd, how;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgIntOr(info, 1, "how", SHUT_WR, &how)) return info.Env().Undefined();
  if (shutdown(fd, how) < 0) {
    return ThrowErrno(info.Env(), errno, "shutdown", fd);
  }
  return info.Env().Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  // On Linux the fd is released even when close returns EINTR (close(2), "Dealing with error
  // returns"): retrying could close an fd another thread just opened, so EINTR counts as success.
  if (close(fd) < 0 && errno != EINTR) {
    return ThrowErrno(info.Env(), errno, "close", fd);
  }
  return info.Env().Undefined();
}

// setsockopt(fd, level, name, value). Every supported option is an int, except SO_LINGER, whose value is
// the linger time in seconds, or -1 to turn lingering off.
Napi::Value Setsockopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, level, name, value;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "level", &level) || !ArgInt(info, 2, "name", &name)) {
    return env.Undefined();
  }
  if (info[3].IsBoolean()) value = info[3].As<Napi::Boolean>().Value() ? 1 : 0;
  else if (!ArgInt(info, 3, "value", &value)) return env.Undefined();
  int rc;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    linger l{value >= 0 ? 1 : 0, value >= 0 ? value : 0};
    rc = setsockopt(fd, level, name, &l, sizeof(l));
  } else {
    rc = setsockopt(fd, level, name, &value, sizeof(value));
  }
  if (rc < 0) {
    return ThrowErrno(env, errno, "setsockopt", fd);
  }
  return env.Undefined();
}

Napi::Value Getsockopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, level, name;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgInt(info, 1, "level", &level) || !ArgInt(info, 2, "name", &name)) {
    return env.Undefined();
  }
  int rc, result;
  if (level == SOL_SOCKET && name == SO_LINGER) {
    linger l{};
    socklen_t len = sizeof(l);
    rc = getsockopt(fd, level, name, &l, &len);
    result = l.l_onoff ? l.l_linger : -1;
  } else {
    socklen_t len = sizeof(result);
    result = 0;
    rc = getsockopt(fd, level, name, &result, &len);
  }
  if (rc < 0) {
    return ThrowErrno(env, errno, "getsockopt", fd);
  }
  return Napi::Number::New(env, result);
}

template <bool kPeer>
Napi::Value GetName(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int rc = kPeer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                 : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc < 0) {
    return ThrowErrno(info.Env(), errno, kPeer ? "getpeername" : "getsockname", fd);
  }
  Napi::Object result = Napi::Object::New(info.Env());
  FormatAddress(reinterpret_cast<sockaddr*>(&ss), len, result);
  return result;
}

Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int32_t domain, type;
  if (!ArgIntOr(info, 0, "domain", AF_UNIX, &domain) || !ArgIntOr(info, 1, "type", SOCK_STREAM, &type)) {
    return info.Env().Undefined();
  }
  int sv[2];
  if (socketpair(domain, type | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(info.Env(), errno, "socketpair");
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, sv[0]);
  result.Set(1u, sv[1]);
  return result;
}

Napi::Value GetNonBlocking(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return ThrowErrno(info.Env(), errno, "fcntl", fd);
  }
  return Napi::Boolean::New(info.Env(), (flags & O_NONBLOCK) != 0);
}

Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  bool on = info[1].IsUndefined() ? true : info[1].ToBoolean().Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)) < 0) {
    return ThrowErrno(info.Env(), errno, "fcntl", fd);
  }
  return info.Env().Undefined();
}

Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  int32_t initval, flags;
  if (!ArgIntOr(info, 0, "initval", 0, &initval) || !ArgIntOr(info, 1, "flags", EFD_NONBLOCK, &flags)) {
    return info.Env().Undefined();
  }
  int fd = eventfd(static_cast<unsigned>(initval), flags | EFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// eventfdRead(fd) -> the counter (reset to 0, or decremented by 1 with EFD_SEMAPHORE), or -errno.
Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  eventfd_t value;
  if (eventfd_read(fd, &value) < 0) return NegErrno(info.Env(), errno);
  return Napi::Number::New(info.Env(), static_cast<double>(value));
}

// eventfdWrite(fd, value = 1) -> 0 or -errno. Safe from any thread: this is how a worker wakes a loop
// blocked in epollWait on another thread.
Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int32_t fd, value;
  if (!ArgFd(info, 0, "fd", &fd) || !ArgIntOr(info, 1, "value", 1, &value)) return info.Env().Undefined();
  if (value <= 0) return ThrowRange(info.Env(), "The value of \"value\" must be > 0");
  if (eventfd_write(fd, static_cast<eventfd_t>(value)) < 0) return NegErrno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  EPK_FN(exports, "socket", Socket);
  EPK_FN(exports, "bind", BindOrConnect<false>);
  EPK_FN(exports, "connect", BindOrConnect<true>);
  EPK_FN(exports, "listen", Listen);
  EPK_FN(exports, "accept4", Accept4);
  {
    napi_value fn;
    napi_create_function(env, "recv", NAPI_AUTO_LENGTH, RecvSendFast<false>, nullptr, &fn);
    exports.Set("recv", fn);
    napi_create_function(env, "send", NAPI_AUTO_LENGTH, RecvSendFast<true>, nullptr, &fn);
    exports.Set("send", fn);
    napi_create_function(env, "sendBatch", NAPI_AUTO_LENGTH, SendBatchFast, nullptr, &fn);
    exports.Set("sendBatch", fn);
  }
  EPK_FN(exports, "sendBatchBind", SendBatchBind);
  EPK_FN(exports, "recvfrom", Recvfrom);
  EPK_FN(exports, "sendto", Sendto);
  EPK_FN(exports, "writev", Writev);

  EPK_FN(exports, "sendfile", Sendfile);
  EPK_FN(exports, "shutdown", Shutdown);
  EPK_FN(exports, "close", Close);
  EPK_FN(exports, "setsockopt", Setsockopt);
  EPK_FN(exports, "getsockopt", Getsockopt);
  EPK_FN(exports, "getsockname", GetName<false>);
  EPK_FN(exports, "getpeername", GetName<true>);
  EPK_FN(exports, "socketpair", Socketpair);
  EPK_FN(exports, "getNonBlocking", GetNonBlocking);
  EPK_FN(exports, "setNonBlocking", SetNonBlocking);
  EPK_FN(exports, "eventfd", Eventfd);
  EPK_FN(exports, "eventfdRead", EventfdRead);
  EPK_FN(exports, "eventfdWrite", EventfdWrite);
  EPK_CONST(exports, AF_INET);
  EPK_CONST(exports, AF_INET6);
  EPK_CONST(exports, AF_UNIX);
  EPK_CONST(exports, SOCK_STREAM);
  EPK_CONST(exports, SOCK_DGRAM);
  EPK_CONST(exports, SOCK_SEQPACKET);
  EPK_CONST(exports, SOCK_NONBLOCK);
  EPK_CONST(exports, SOCK_CLOEXEC);
  EPK_CONST(exports, SOL_SOCKET);
  EPK_CONST(exports, IPPROTO_TCP);
  EPK_CONST(exports, IPPROTO_IPV6);
  EPK_CONST(exports, IPV6_V6ONLY);
  EPK_CONST(exports, SO_REUSEADDR);
  EPK_CONST(exports, SO_REUSEPORT);
  EPK_CONST(exports, SO_RCVBUF);
  EPK_CONST(exports, SO_SNDBUF);
  EPK_CONST(exports, SO_KEEPALIVE);
  EPK_CONST(exports, SO_LINGER);
  EPK_CONST(exports, SO_ERROR);
  EPK_CONST(exports, SO_TYPE);
  EPK_CONST(exports, SO_DOMAIN);
  EPK_CONST(exports, SO_RCVLOWAT);
  EPK_CONST(exports, TCP_NODELAY);
  EPK_CONST(exports, TCP_CORK);
  EPK_CONST(exports, TCP_DEFER_ACCEPT);
  EPK_CONST(exports, SHUT_RD);
  EPK_CONST(exports, SHUT_WR);
  EPK_CONST(exports, SHUT_RDWR);
  EPK_CONST(exports, MSG_PEEK);
  EPK_CONST(exports, MSG_DONTWAIT);
  EPK_CONST(exports, MSG_NOSIGNAL);
  EPK_CONST(exports, MSG_MORE);
  EPK_CONST(exports, MSG_WAITALL);
  EPK_CONST(exports, SOMAXCONN);
  EPK_CONST(exports, EFD_NONBLOCK);
  EPK_CONST(exports, EFD_CLOEXEC);
  EPK_CONST(exports, EFD_SEMAPHORE);
}

}  // namespace epollkit
