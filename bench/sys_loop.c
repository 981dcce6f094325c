// The C side of `npm run bench:sys` (lib/lab/sys-bench.ts): the same loops the benchmark runs through the
// addon, written against the kernel directly, so that addon ns/op divided by C ns/op is the addon's cost.
// Loops: ping (send 64 B on one end of a nonblocking AF_UNIX socketpair, recv 64 B on the other), recv on
// an empty socket (the EAGAIN path), epoll_wait with 64 and with 1 level-triggered ready fd, getppid().
// Usage: sys_loop PING EAGAIN EPOLL64 EPOLL1 GETPPID [REPS] [WARMUP_PERCENT] [IDLE_THREADS]
// (iterations per loop). IDLE_THREADS > 0 starts threads that only sleep, so the process is multithreaded
// like Node: the kernel then takes a reference on the file for every fd syscall (fdget/fput), which a
// single-threaded process skips, and that cost is no addon's doing.
// Prints one JSON object: {"wall":{"ping":[ns/op per rep...], ...}, "cpu":{...}}, by the monotonic clock and
// by this process's CPU time (which a busy machine's other processes do not inflate). Every result is
// checked; a surprise exits 1.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define READY 64

static double now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// `what` failed: with errno set, a syscall error; with errno 0, a result other than the one expected.
static void die(const char *what) {
  fprintf(stderr, "sys_loop: %s: %s\n", what, errno ? strerror(errno) : "unexpected result");
  exit(1);
}

// Exits unless a call returned `want`; a nonnegative surprise (a short count) is reported as such.
static void expect(long got, long want, const char *what) {
  if (got == want) return;
  if (got >= 0) errno = 0;
  die(what);
}

static void pair(int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
}

// The sink keeps the compiler from dropping work whose result is otherwise unused.
static volatile long sink;

static void loop_ping(long n, int a, int b) {
  char out[MSG] = {1}, in[MSG];
  for (long i = 0; i < n; i++) {
    expect(send(a, out, MSG, MSG_NOSIGNAL), MSG, "send");
    expect(recv(b, in, MSG, 0), MSG, "recv");
  }
}

static void loop_eagain(long n, int a) {
  char in[MSG];
  for (long i = 0; i < n; i++) {
    if (recv(a, in, MSG, 0) != -1 || errno != EAGAIN) die("recv on an empty socket");
  }
}

// Reads every returned token, as the JS loop reads its Int32Array, so both loops consume the events.
static void loop_epoll(long n, int epfd, int ready) {
  struct epoll_event ev[READY];
  long sum = 0;
  for (long i = 0; i < n; i++) {
    int got = epoll_wait(epfd, ev, READY, 0);
    expect(got, ready, "epoll_wait");
    for (int j = 0; j < got; j++) sum += ev[j].data.u64;
  }
  sink = sum;
}

static void loop_getppid(long n) {
  long sum = 0;
  for (long i = 0; i < n; i++) sum += getppid();
  sink = sum;
}

// An epoll instance with `count` level-triggered fds that stay readable (one byte pending, never read).
static int ready_epoll(int count, int fds[][2]) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  for (int i = 0; i < count; i++) {
    pair(fds[i]);
    expect(send(fds[i][1], "x", 1, MSG_NOSIGNAL), 1, "send");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (unsigned)fds[i][0]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i][0], &ev) < 0) die("epoll_ctl");
  }
  return epfd;
}

static void *sleeper(void *arg) {
  for (;;) pause();
  return arg;
}

enum { PING, EAGAIN_, EPOLL64, EPOLL1, GETPPID, NLOOPS };
static const char *const names[NLOOPS] = {"ping", "eagain", "epoll64", "epoll1", "getppid"};

static void print_clock(double results[NLOOPS][1000], const long *iters, int reps) {
  printf("{");
  for (int k = 0, first = 1; k < NLOOPS; k++) {
    if (iters[k] <= 0) continue;
    printf("%s\"%s\":[", first ? "" : ",", names[k]);
    for (int r = 0; r < reps; r++) printf("%s%.3f", r ? "," : "", results[k][r]);
    printf("]");
    first = 0;
  }
  printf("}");
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s PING EAGAIN EPOLL64 EPOLL1 GETPPID [REPS] [WARMUP_PERCENT] [IDLE_THREADS]\n",
            argv[0]);
    return 2;
  }
  long iters[NLOOPS];
  for (int k = 0; k < NLOOPS; k++) iters[k] = atol(argv[1 + k]);
  int reps = argc > 6 ? atoi(argv[6]) : 5;
  long warm_pct = argc > 7 ? atol(argv[7]) : 10;
  int idle_threads = argc > 8 ? atoi(argv[8]) : 0;
  if (reps < 1 || reps > 1000) {
    errno = 0;
    die("REPS out of range");
  }

  for (int t = 0; t < idle_threads; t++) {
    pthread_t tid;
    if ((errno = pthread_create(&tid, NULL, sleeper, NULL)) != 0) die("pthread_create");
  }

  int ping[2], empty[2], many[READY][2], one[1][2];
  pair(ping);
  pair(empty);
  int ep64 = ready_epoll(READY, many);
  int ep1 = ready_epoll(1, one);

  static double wall[NLOOPS][1000], cpu[NLOOPS][1000];
  for (int r = 0; r < reps; r++) {
    for (int k = 0; k < NLOOPS; k++) {
      long n = iters[k];
      if (n <= 0) continue;
      for (int pass = 0; pass < 2; pass++) {  // pass 0 warms caches and branch predictors, pass 1 is timed
        long m = pass == 0 ? (n * warm_pct + 99) / 100 : n;
        if (m <= 0) continue;
        double t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
        switch (k) {
          case PING: loop_ping(m, ping[0], ping[1]); break;
          case EAGAIN_: loop_eagain(m, empty[0]); break;
          case EPOLL64: loop_epoll(m, ep64, READY); break;
          case EPOLL1: loop_epoll(m, ep1, 1); break;
          case GETPPID: loop_getppid(m); break;
        }
        if (pass == 1) {
          cpu[k][r] = (now_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)n;
          wall[k][r] = (now_ns(CLOCK_MONOTONIC) - t0) / (double)n;
        }
      }
    }
  }

  printf("{\"wall\":");
  print_clock(wall, iters, reps);
  printf(",\"cpu\":");
  print_clock(cpu, iters, reps);
  printf("}\n");
  return 0;
}
