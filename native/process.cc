// fork(2), _exit(2), waitpid(2), kill(2), getpid(2), and the blocking I/O a forked child needs.
// The rules (shared/research/fork-safety.md): Node maps V8's heap MADV_DONTFORK, so fork() must first
// madvise(MADV_DOFORK) every mapping, in the same native call, or the child has no heap and crashes.
// The child must run synchronously and leave through _exit. The parent waits only on its own pids.
// The child starts with the default action for every signal the parent caught (see ResetSignalsInChild).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common.h"

namespace epollkit {
namespace {

// Walks /proc/self/maps and undoes MADV_DONTFORK on every mapping. Per-mapping errors (for example
// EINVAL on [vsyscall]) are ignored: those mappings are the kernel's, not V8's.
void DoforkAllMappings() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[65536];
  std::string pending;
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0, eol;
    while ((eol = pending.find('\n', start)) != std::string::npos) {
      unsigned long lo = 0, hi = 0;
      if (sscanf(pending.c_str() + start, "%lx-%lx", &lo, &hi) == 2 && hi > lo) {
        madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DOFORK);
      }
      start = eol + 1;
    }
    pending.erase(0, start);
  }
  close(fd);
}

// The address ranges between the kernel's special mappings ([vvar], [vdso]...), found once: they do not
// move for the life of a process, and every other mapping, V8's new pages included, lies in a range.
// One madvise(MADV_DOFORK) over a range reaches every mapping in it — holes only make it return ENOMEM,
// after it has walked the rest — while a special mapping (VM_IO) would stop it with EINVAL: hence the gaps.
// Reading /proc/self/maps on every fork cost the parent ~13% of its time per connection (issue 6).
struct AddressRange {
  unsigned long lo, hi;
};
std::vector<AddressRange> dofork_ranges;

bool FindDoforkRanges() {
  FILE* maps = fopen("/proc/self/maps", "re");
  if (!maps) return false;
  const unsigned long kUserTop = (1UL << 47) - 4096;  // x86-64 (and arm64's 48-bit) user space, default mmap limit
  std::vector<AddressRange> ranges;
  unsigned long from = 0;
  char line[512];
  while (fgets(line, sizeof line, maps)) {
    unsigned long lo = 0, hi = 0;
    int name = 0;
    if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name) < 2) continue;
    const char* path = line + name;
    bool special = path[0] == '[' && strncmp(path, "[heap]", 6) != 0 && strncmp(path, "[stack", 6) != 0 &&
                   strncmp(path, "[anon", 5) != 0;
    if (!special) continue;
    if (lo > from) ranges.push_back({from, lo < kUserTop ? lo : kUserTop});
    from = hi;
  }
  fclose(maps);
  if (from < kUserTop) ranges.push_back({from, kUserTop});
  dofork_ranges.swap(ranges);
  return !dofork_ranges.empty();
}

// Undoes MADV_DONTFORK everywhere: over the cached ranges, or by the walk of every mapping when a range
// meets a mapping that refuses (a device mapping made since the ranges were found; they are found again).
void DoforkEverything() {
  if (dofork_ranges.empty() && !FindDoforkRanges()) return DoforkAllMappings();
  for (const AddressRange& r : dofork_ranges) {
    if (r.hi <= r.lo) continue;
    if (madvise(reinterpret_cast<void*>(r.lo), r.hi - r.lo, MADV_DOFORK) != 0 && errno != ENOMEM) {
      dofork_ranges.clear();
      return DoforkAllMappings();
    }
  }
}

// In a new child: every caught signal back to SIG_DFL, then no signal blocked. The handlers caught are
// libuv's (process.on('SIGTERM'), SIGCHLD for child_process...): they only write the signal number to a
// pipe the child shares with the parent, so the child would ignore SIGTERM and the parent would act on a
// signal it never got. SIG_IGN stays (Node ignores SIGPIPE; a child of `nohup` ignores SIGHUP), as
// execve(2) would keep it. The mask is emptied: libuv blocks signals while it holds its signal lock, and a
// child has no loop to unblock them. sigaction(2) and sigprocmask(2) are async-signal-safe.
void ResetSignalsInChild(const sigset_t& unblock) {
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction old;
    if (sigaction(sig, nullptr, &old) != 0) continue;  // SIGKILL, SIGSTOP and glibc's own are refused
    bool caught = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != nullptr
                                               : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
    if (!caught) continue;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
  }
  sigprocmask(SIG_SETMASK, &unblock, nullptr);
}

// The parent's half of fork(watch): a pidfd for the child (pidfd_open(2), Linux 5.3), registered in the
// epoll instance `watch` with the pid and the pidfd as its data, for ReapEnded. Best effort: a child that
// could not be watched (EMFILE, an old kernel) is left to the caller's sweep.
void WatchChild(int watch, pid_t pid) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = (static_cast<uint64_t>(static_cast<uint32_t>(pid)) << 32) | static_cast<uint32_t>(pidfd);
  if (epoll_ctl(watch, EPOLL_CTL_ADD, pidfd, &ev) < 0) close(pidfd);
}

// fork(2) once DoforkEverything has run. Every signal is blocked across fork(2) so that the child cannot
// run an inherited handler before ResetSignalsInChild: a signal sent to the new pid at once (a parent's
// kill right after fork returns) stays pending and is delivered, with the default action, when the child
// unblocks. The parent gets its own mask back; anything sent to it meanwhile is delivered then. Returns
// fork's result; fork's errno goes to *err only on failure (writing errno after every fork would cost the
// parent a copy-on-write fault on its TLS page).
pid_t ForkWithSignalsReset(int* err) {
  sigset_t all, before, none;
  sigfillset(&all);
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  pid_t pid = fork();
  if (pid < 0) *err = errno;
  if (pid == 0) {
    ResetSignalsInChild(none);
    return 0;
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return pid;
}

Napi::Value Fork(const Napi::CallbackInfo& info) {
  int32_t watch;
  if (!ArgIntOr(info, 0, "watch", -1, &watch)) return info.Env().Undefined();
  DoforkEverything();
  int fork_errno = 0;
  pid_t pid = ForkWithSignalsReset(&fork_errno);
  if (pid < 0) return ThrowErrno(info.Env(), fork_errno, "fork");
  if (pid > 0 && watch >= 0) WatchChild(watch, pid);
  return Napi::Number::New(info.Env(), pid);
}

// acceptFork(listenFd, watch, out: Int32Array, max, noDelay) -> in the parent, n >= 0 children forked; in
// each child, ~fd (negative) of the connection it is to serve. The forking server's whole per-connection
// path in one crossing, repeated for each pending connection up to `max` (at most 64 and out.length - 2):
// accept4 (nonblocking, CLOEXEC), fork as fork(watch) does, and the parent closes its copy of the
// connection, so it never holds more than one. out[0] gets what ended the batch: 0 when it took `max`, else the -errno of
// the accept4 that stopped it (-EAGAIN: the queue is empty); out[1] the errno of a failed fork (0: none),
// whose connection was closed unserved and ended the batch; out[2..2+n) the pids. With noDelay the child
// sets TCP_NODELAY on its connection, a syscall the parent no longer makes.
// Why one call: after each fork every page the parent writes is a copy-on-write fault, and JS between two
// forks (the listener's loop, the server's bookkeeping, N-API's handle scopes) wrote ~30 pages per
// connection; within one call only the stack and libc's own fork state are written. For the same reason
// the pids and the accept4 count are kept on the stack and written out once, after the last fork (the
// out array and the counters' TLS block lie on heap pages: one fault per fork each). V8 cannot map new
// MADV_DONTFORK pages while this call runs (no JS, and node runs --single-threaded), so one
// DoforkEverything serves the batch.
Napi::Value AcceptFork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t listen_fd, watch, max, no_delay;
  int32_t* out;
  size_t length;
  if (!ArgFd(info, 0, "listenFd", &listen_fd) || !ArgInt(info, 1, "watch", &watch) ||
      !ArgInt32Array(info, 2, "out", &out, &length) || !ArgInt(info, 3, "max", &max) ||
      !ArgIntOr(info, 4, "noDelay", 0, &no_delay)) {
    return env.Undefined();
  }
  if (length < 3) return ThrowRange(env, "acceptFork() needs an out array of at least 3 entries");
  if (max < 1) return ThrowRange(env, "The value of \"max\" must be >= 1");
  constexpr int32_t kBatch = 64;
  if (max > kBatch) max = kBatch;
  if (static_cast<size_t>(max) > length - 2) max = static_cast<int32_t>(length - 2);
  static_assert(sizeof(pid_t) == sizeof(int32_t), "pids are copied into an Int32Array");
  pid_t pids[kBatch];
  int32_t n = 0, accept_end = 0, fork_errno = 0;
  bool doforked = false;
  // accept4 and close by syscall(2): glibc's wrappers are cancellation points, which write the thread's
  // cancellation state on its TCB page around the call — one more fault per fork (nothing cancels Node's
  // main thread).
  while (n < max) {
    int cfd = static_cast<int>(syscall(SYS_accept4, listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (cfd < 0) {
      accept_end = -errno;
      break;
    }
    if (!doforked) {
      DoforkEverything();
      doforked = true;
    }
    pid_t pid = ForkWithSignalsReset(&fork_errno);
    if (pid == 0) {
      if (no_delay) {
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      return Napi::Number::New(env, ~cfd);
    }
    // Watched before the close, as fork(watch) and then a close would: at the fd limit the pidfd is the
    // one refused (the sweep reaps that child), not the next accept4 (which would refuse a client).
    if (pid > 0 && watch >= 0) WatchChild(watch, pid);
    syscall(SYS_close, cfd);  // the parent's copy only: the child's stays open
    if (pid < 0) break;
    pids[n++] = pid;
  }
  Count(kAccept4, n + (fork_errno != 0 || accept_end != 0 ? 1 : 0));
  if (accept_end == -EAGAIN) Count(kEagain);
  out[0] = accept_end;
  out[1] = fork_errno;
  memcpy(out + 2, pids, static_cast<size_t>(n) * sizeof(pid_t));
  return Napi::Number::New(env, n);
}

// Whether this kernel has pidfd_open(2) (asked of our own pid).
Napi::Value PidfdSupported(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (fd >= 0) close(fd);
  return Napi::Boolean::New(info.Env(), fd >= 0);
}

// reapEnded(watch, out: Int32Array) -> count: for each child of fork(watch) whose pidfd is readable (it has
// ended), waitpid(pid, WNOHANG), then the pidfd unregistered and closed; out gets (pid, exit code or -1,
// signal number or 0) per child. A pid someone else has reaped meanwhile (ECHILD) reads (pid, -1, 0). One
// call per batch of exits and no object per child: the forking parent allocates nothing to reap.
Napi::Value ReapEnded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t watch;
  int32_t* out;
  size_t length;
  if (!ArgFd(info, 0, "watch", &watch) || !ArgInt32Array(info, 1, "out", &out, &length)) return env.Undefined();
  if (length < 3) return ThrowRange(env, "reapEnded() needs an out array of at least 3 entries");
  epoll_event events[64];
  int max = static_cast<int>(length / 3 < 64 ? length / 3 : 64);
  int n;
  do {
    n = epoll_wait(watch, events, max, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Napi::Number::New(env, -errno);
  for (int i = 0; i < n; i++) {
    pid_t pid = static_cast<pid_t>(events[i].data.u64 >> 32);
    int pidfd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
    int status = 0;
    pid_t rc;
    do {
      rc = waitpid(pid, &status, WNOHANG);
    } while (rc < 0 && errno == EINTR);
    int32_t code = -1, sig = 0;
    if (rc == 0) {
      // Readable yet not waitable: cannot happen for an ended child; keep watching it.
      out[3 * i] = 0;
      continue;
    }
    if (rc == pid) {
      if (WIFEXITED(status)) code = WEXITSTATUS(status);
      else if (WIFSIGNALED(status)) sig = WTERMSIG(status);
    }
    // Unregister before closing: the children forked since hold copies of this pidfd, which keep the
    // registration alive after our close.
    epoll_ctl(watch, EPOLL_CTL_DEL, pidfd, nullptr);
    close(pidfd);
    out[3 * i] = pid;
    out[3 * i + 1] = code;
    out[3 * i + 2] = sig;
  }
  return Napi::Number::New(env, n);
}

// _exit(code): the only safe way out of a forked child; Node's own exit path joins threads the child
// does not have and crashes.
Napi::Value Exit(const Napi::CallbackInfo& info) {
  int32_t code;
  if (!ArgIntOr(info, 0, "code", 0, &code)) return info.Env().Undefined();
  _exit(code & 0xff);
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(sig);
}

// waitpid(pid, options = WNOHANG) -> {pid, exitCode, signal} once the child has ended, or null while it
// runs (with WNOHANG). pid must be a positive pid of the caller's own child: waiting on -1 or a process
// group would steal exits that libuv's child_process is waiting for.
Napi::Value Waitpid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t pid, options;
  if (!ArgInt(info, 0, "pid", &pid) || !ArgIntOr(info, 1, "options", WNOHANG, &options)) return env.Undefined();
  if (pid <= 0) {
    return ThrowMisuse(env, "ERR_EPOLLKIT_WAITPID_PID",
                       "waitpid() takes the pid of one child of yours (> 0); waiting on any child would "
                       "steal the exits of child_process children",
                       true);
  }
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid(pid, &status, options);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return ThrowErrno(env, errno, "waitpid");
  if (rc == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", rc);
  if (WIFEXITED(status)) {
    result.Set("exitCode", WEXITSTATUS(status));
    result.Set("signal", env.Null());
  } else if (WIFSIGNALED(status)) {
    result.Set("exitCode", env.Null());
    result.Set("signal", SignalName(WTERMSIG(status)));
  } else {
    // WUNTRACED / WCONTINUED reports: the child lives on.
    result.Set("exitCode", env.Null());
    result.Set("signal", WIFSTOPPED(status) ? Napi::Value(Napi::String::New(env, SignalName(WSTOPSIG(status))))
                                             : env.Null());
    result.Set("stopped", WIFSTOPPED(status));
  }
  return result;
}

Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t pid, sig;
  if (!ArgInt(info, 0, "pid", &pid) || !ArgIntOr(info, 1, "signal", SIGTERM, &sig)) return env.Undefined();
  if (pid <= 0) {
    return ThrowMisuse(env, "ERR_EPOLLKIT_KILL_PID",
                       "kill() takes one pid (> 0); process groups and -1 are refused", true);
  }
  if (kill(pid, sig) < 0) return ThrowErrno(env, errno, "kill");
  return env.Undefined();
}

Napi::Value Getpid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }
Napi::Value Getppid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getppid()); }

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

// Waits for `events` on fd until the deadline; returns 0, or an errno (ETIMEDOUT when it passed).
int WaitFor(int fd, short events, double deadline) {
  for (;;) {
    double left = deadline - NowMs();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, left > 2147483647.0 ? -1 : static_cast<int>(left + 0.999));
    if (rc > 0) return 0;  // ready, or an error condition the next read/write will report
    if (rc < 0 && errno != EINTR) return errno;
  }
}

// One read that does not block even on a blocking fd (EAGAIN instead).
ssize_t ReadNow(int fd, uint8_t* p, size_t n, bool* is_socket) {
  if (*is_socket) {
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r >= 0 || errno != ENOTSOCK) return r;
    *is_socket = false;
  }
  pollfd q{fd, POLLIN, 0};
  int rc = poll(&q, 1, 0);
  if (rc == 0) {
    errno = EAGAIN;
    return -1;
  }
  if (rc < 0) return -1;
  return read(fd, p, n);
}

// One write to a blocking non-socket fd that does not block (EAGAIN instead).
ssize_t WriteNow(int fd, const uint8_t* p, size_t n) {
  pollfd q{fd, POLLOUT, 0};
  int rc = poll(&q, 1, 0);
  if (rc == 0) {
    errno = EAGAIN;
    return -1;
  }
  if (rc < 0) return -1;
  return write(fd, p, n < PIPE_BUF ? n : PIPE_BUF);
}

enum class ReadMode { kSome, kFull };

// Blocking reads for a forked child. The fd's O_NONBLOCK flag belongs to an open file description it
// shares with the parent, so it is never changed: EAGAIN is answered with poll(2) until the deadline.
// (fd, buffer, offset?, length?, timeoutMs?): the arguments of readSome, readFull and writeAll. False
// once an error is pending.
struct BlockingArgs {
  int32_t fd;
  uint8_t* data;
  size_t len;
  double timeout = -1;  // negative: none
  double deadline;      // NowMs() at which the timeout runs out
};

bool ArgBlocking(const Napi::CallbackInfo& info, BlockingArgs* a) {
  if (!ArgFd(info, 0, "fd", &a->fd) || !ArgBytes(info, 1, "buffer", &a->data, &a->len)) return false;
  if (!info[4].IsUndefined() && !ArgDouble(info, 4, "timeoutMs", &a->timeout)) return false;
  a->deadline = a->timeout < 0 ? 1e300 : NowMs() + a->timeout;
  return true;
}

template <ReadMode kMode>
Napi::Value ReadBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BlockingArgs a;
  if (!ArgBlocking(info, &a)) return env.Undefined();
  const auto [fd, data, len, timeout, deadline] = a;
  size_t done = 0;
  const char* syscall = kMode == ReadMode::kFull ? "readFull" : "readSome";
  // With a deadline, never block in read(2) itself, whatever O_NONBLOCK says (a blocking fd would
  // ignore the deadline): MSG_DONTWAIT on sockets, a zero-timeout poll first on anything else.
  bool is_socket = true;
  while (done < len) {
    ssize_t n = timeout < 0 ? read(fd, data + done, len - done) : ReadNow(fd, data + done, len - done, &is_socket);
    if (n > 0) {
      done += static_cast<size_t>(n);
      if (kMode == ReadMode::kSome) break;
    } else if (n == 0) {
      break;  // EOF: the caller sees a short count
    } else if (errno == EAGAIN) {
      int err = WaitFor(fd, POLLIN, deadline);
      if (err != 0) return ThrowErrno(env, err, syscall, fd);
    } else if (errno != EINTR) {
      return ThrowErrno(env, errno, syscall, fd);
    }
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

// writeAll(fd, buf, offset?, length?, timeoutMs?) -> bytes (all of them) or throws (ETIMEDOUT, EPIPE...).
// Sockets are written with MSG_NOSIGNAL; pipes and files with write(2).
Napi::Value WriteAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BlockingArgs a;
  if (!ArgBlocking(info, &a)) return env.Undefined();
  const auto [fd, data, len, timeout, deadline] = a;
  size_t done = 0;
  bool is_socket = true;
  // With a deadline on a blocking fd, send(2)/write(2) must not block either: MSG_DONTWAIT on sockets;
  // elsewhere poll first and write at most PIPE_BUF (which POLLOUT guarantees room for).
  int fl = timeout < 0 ? 0 : fcntl(fd, F_GETFL);
  bool guard = timeout >= 0 && fl >= 0 && (fl & O_NONBLOCK) == 0;
  while (done < len) {
    ssize_t n = is_socket ? send(fd, data + done, len - done, MSG_NOSIGNAL | (guard ? MSG_DONTWAIT : 0))
                : guard   ? WriteNow(fd, data + done, len - done)
                          : write(fd, data + done, len - done);
    if (n >= 0) {
      done += static_cast<size_t>(n);
    } else if (errno == ENOTSOCK && is_socket) {
      is_socket = false;
    } else if (errno == EAGAIN) {
      int err = WaitFor(fd, POLLOUT, deadline);
      if (err != 0) return ThrowErrno(env, err, "writeAll", fd);
    } else if (errno != EINTR) {
      return ThrowErrno(env, errno, "writeAll", fd);
    }
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  EPK_FN(exports, "fork", Fork);
  EPK_FN(exports, "acceptFork", AcceptFork);
  EPK_FN(exports, "_exit", Exit);
  EPK_FN(exports, "waitpid", Waitpid);
  EPK_FN(exports, "kill", Kill);
  EPK_FN(exports, "pidfdSupported", PidfdSupported);
  EPK_FN(exports, "reapEnded", ReapEnded);
  EPK_FN(exports, "getpid", Getpid);
  EPK_FN(exports, "getppid", Getppid);
  EPK_FN(exports, "readFull", ReadBlocking<ReadMode::kFull>);
  EPK_FN(exports, "readSome", ReadBlocking<ReadMode::kSome>);
  EPK_FN(exports, "writeAll", WriteAll);
  EPK_CONST(exports, WNOHANG);
  EPK_CONST(exports, WUNTRACED);
  EPK_CONST(exports, WCONTINUED);
  EPK_CONST(exports, SIGTERM);
  EPK_CONST(exports, SIGKILL);
  EPK_CONST(exports, SIGINT);
  EPK_CONST(exports, SIGHUP);
  EPK_CONST(exports, SIGCHLD);
  EPK_CONST(exports, SIGSEGV);
  EPK_CONST(exports, SIGABRT);
  EPK_CONST(exports, SIGUSR1);
  EPK_CONST(exports, SIGUSR2);
  EPK_CONST(exports, SIGSTOP);
  EPK_CONST(exports, SIGCONT);
}

}  // namespace epollkit
