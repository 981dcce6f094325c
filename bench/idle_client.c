// HTTP keep-alive clients for the scale test: many idle connections from one process, or a few active ones.
// usage: idle_client [-c CONNS] [-o ADDR_OFFSET] [-q IN_FLIGHT] [-t SETUP_S] [-P PATH] PORT       (hold)
//        idle_client -A CONNS -d SECONDS [-i INTERVAL_MS] [-P PATH] PORT                        (active)
//   hold:   opens CONNS connections to 127.0.0.1:PORT, at most IN_FLIGHT (default 64) connecting or awaiting
//           their reply at once (the server's accept backlog is finite: a burst past it costs a 1 s SYN
//           retransmit), makes one GET on each so that each is a real keep-alive connection, prints
//           "established=N errors=E setup_ms=T", then holds them. A line "status" on stdin prints
//           "alive=A closed=C" (C: connections the server closed since); end of stdin closes all and exits.
//   active: CONNS connections, each a GET, its whole reply, then the next GET INTERVAL_MS after the previous
//           one was due (0, the default: at once); prints "requests=R errors=E p50_us=.. p99_us=.. max_us=..".
//           Latency runs from when a request was due, not when it left: a late server is not excused.
// Source addresses are spread over 127.0.0.2-9 (IP_BIND_ADDRESS_NO_PORT): 28,232 ephemeral ports
// (ip_local_port_range 32768-60999) per source address and destination, so 8 addresses hold ~225,000.
// Replies are read as HTTP/1.1 heads with Content-Length; any other status, or bytes on an idle
// connection, count as errors.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/epoll.h>

enum { CONNECTING, WAITING, IDLE, CLOSED };
// Small on purpose: 19,000 of them per process. The head buffer exists only while a reply is read.
typedef struct { int fd, state, got, body, replies; char *head; double due; } conn_t;

enum { HEAD_MAX = 4096 };
static int nconn = 1000, offset, inflight_max = 64, port, ep, active;
static double setup_s = 120, secs = 5, interval_ms;
static long errors, requests, closed_later;
static const char *path = "/";
static char request[512];
static int request_len;
#define NB 1000000  // 1 µs latency buckets up to 1 s; slower replies land in the last one
static long hist[NB + 1], max_us;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void watch(conn_t *c, int op, unsigned events) {
  struct epoll_event ev = { .events = events, .data.ptr = c };
  epoll_ctl(ep, op, c->fd, &ev);
}

// The first few failures are told on stderr (what failed and errno), the rest only counted.
static void report(const char *what, int err) {
  if (errors++ < 5) fprintf(stderr, "idle_client: %s: %s\n", what, err ? strerror(err) : "closed by the server, or a wrong reply");
}

static void drop(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  free(c->head);
  c->head = NULL; c->fd = -1; c->state = CLOSED;
}

static int open_conn(conn_t *c, int slot) {
  static const int one = 1;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 + (slot + offset) % 8) };
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
  if (bind(c->fd, (struct sockaddr *)&src, sizeof src) || (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) && errno != EINPROGRESS)) {
    int err = errno;
    drop(c);
    errno = err;
    return -1;
  }
  c->state = CONNECTING;
  watch(c, EPOLL_CTL_ADD, EPOLLOUT);
  return 0;
}

static int send_request(conn_t *c) {
  if (send(c->fd, request, request_len, MSG_NOSIGNAL) != request_len) return -1;  // a small request on an idle socket goes whole
  c->state = WAITING; c->got = 0; c->body = -1;
  if (!c->head && !(c->head = malloc(HEAD_MAX))) return -1;
  return 0;
}

// Reads a reply: 1 when it is whole, 0 for more to come, -1 when the connection broke or the reply is wrong.
static int on_reply(conn_t *c) {
  static char buf[65536];
  for (;;) {
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (r <= 0) { if (r == 0) errno = 0; return -1; }  // errno 0: closed by the server
    errno = 0;  // a wrong reply from here on
    ssize_t used = 0;
    if (c->body < 0) {
      // The head, up to its blank line, kept across reads; what follows it is body.
      int take = r < HEAD_MAX - 1 - c->got ? (int)r : HEAD_MAX - 1 - c->got;
      memcpy(c->head + c->got, buf, take);
      c->got += take;
      c->head[c->got] = 0;
      char *end = strstr(c->head, "\r\n\r\n");
      if (!end) { if (c->got >= HEAD_MAX - 1) return -1; continue; }
      if (strncmp(c->head, "HTTP/1.1 200 ", 13)) return -1;
      char *cl = strcasestr(c->head, "\r\nContent-Length:");
      if (!cl) return -1;
      int head_len = (int)(end + 4 - c->head);
      c->body = atoi(cl + 17);
      used = take - (c->got - head_len);  // bytes of this read that belonged to the head
    }
    c->body -= (int)(r - used);
    if (c->body < 0) return -1;  // more than Content-Length: no pipelining here
    if (c->body == 0) return 1;
  }
}

static void record_latency(conn_t *c) {
  long us = (long)((now() - c->due) * 1e6);
  if (us > max_us) max_us = us;
  hist[us < 0 ? 0 : us > NB ? NB : us]++;
  requests++;
}

static long percentile(int p) {
  long c = 0;
  if (requests == 0) return -1;
  for (int b = 0; b <= NB; b++) if ((c += hist[b]) * 100 >= requests * p) return b;
  return -1;
}

// Hold mode after setup: answers "status" lines on stdin, counts connections the server closes, and
// returns at end of stdin.
static void hold(conn_t *conns) {
  struct epoll_event ev = { .events = EPOLLIN }, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);  // data.ptr NULL: stdin
  char line[256];
  int used = 0;
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c) { drop(c); closed_later++; continue; }  // an idle connection has nothing to say: closed, reset or wrong
      ssize_t r = read(0, line + used, sizeof line - 1 - used);
      if (r <= 0) return;
      used += (int)r;
      line[used] = 0;
      for (char *nl; (nl = strchr(line, '\n'));) {
        long alive = 0;
        for (int i = 0; i < nconn; i++) alive += conns[i].state == IDLE;
        if (!strncmp(line, "status", 6)) printf("alive=%ld closed=%ld\n", alive, closed_later);
        fflush(stdout);
        used -= (int)(nl + 1 - line);
        memmove(line, nl + 1, used + 1);
      }
      if (used == sizeof line - 1) used = 0;  // a line too long to be a command
    }
  }
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "c:o:q:t:P:A:d:i:")) != -1) {
    if (opt == 'c') nconn = atoi(optarg);
    else if (opt == 'o') offset = atoi(optarg);
    else if (opt == 'q') inflight_max = atoi(optarg);
    else if (opt == 't') setup_s = atof(optarg);
    else if (opt == 'P') path = optarg;
    else if (opt == 'A') active = 1, nconn = atoi(optarg);
    else if (opt == 'd') secs = atof(optarg);
    else if (opt == 'i') interval_ms = atof(optarg);
  }
  if (optind >= argc || nconn < 1 || inflight_max < 1 || strlen(path) > 256) {
    fprintf(stderr, "usage: %s [-c CONNS] [-o ADDR_OFFSET] [-q IN_FLIGHT] [-t SETUP_S] [-P PATH] PORT\n"
                    "       %s -A CONNS -d SECONDS [-i INTERVAL_MS] [-P PATH] PORT\n", argv[0], argv[0]);
    return 2;
  }
  port = atoi(argv[optind]);
  request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(EPOLL_CLOEXEC);
  conn_t *conns = calloc(nconn, sizeof(conn_t));
  struct epoll_event evs[1024];
  int opened = 0, busy = 0, done = 0;
  double t0 = now(), end = t0 + (active ? secs : setup_s), t;
  // Setup (and, in active mode, the whole run): open paced, GET, read the reply, then idle or go again.
  // Active mode stops sending at the end and waits up to 1 s for the replies in flight.
  while ((t = now()) < end + (active ? 1 : 0) && (active ? t < end || busy > 0 : done < nconn)) {
    for (; opened < nconn && busy < (active ? nconn : inflight_max); opened++, busy++) {
      if (open_conn(&conns[opened], opened)) report("connect", errno), busy--, done++;
    }
    // Active mode wakes when the next request is due, to the microsecond (epoll_pwait2).
    double next = t + 0.01;
    for (int i = 0; active && t < end && i < opened; i++) if (conns[i].state == IDLE && conns[i].due < next) next = conns[i].due;
    double wait = next > t ? next - t : 0;
    struct timespec ts = { .tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9) };
    int n = epoll_pwait2(ep, evs, 1024, &ts, NULL);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c->due = now();
        if (err || send_request(c)) { report(err ? "connect" : "send", err ? err : errno); drop(c); busy--, done++; continue; }
        watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
        continue;
      }
      if (c->state != WAITING) { if (c->state == IDLE) { report("idle connection", 0); drop(c); } continue; }  // bytes or a close on an idle connection
      int got = on_reply(c);
      if (got < 0) { report("reply", errno); drop(c); busy--, done++; continue; }
      if (got == 0) continue;
      busy--, done++;
      c->state = IDLE;
      if (!active) { free(c->head); c->head = NULL; continue; }
      // The first reply of a connection pays for its accept: warm-up, not measured.
      if (c->replies++ > 0) record_latency(c);
      // After the warm-up reply the connections' requests are spread evenly over the interval, not sent in step.
      double spread = c->replies == 1 ? interval_ms / 1000 * (double)(c - conns) / nconn : 0;
      c->due = interval_ms > 0 ? (c->replies == 1 ? now() : c->due) + interval_ms / 1000 + spread : now();
    }
    // Active mode: each idle connection sends its next request once it is due.
    for (int i = 0; active && now() < end && i < opened; i++) {
      conn_t *c = &conns[i];
      if (c->state != IDLE || c->due > now()) continue;
      if (send_request(c)) { report("send", errno); drop(c); } else busy++;
    }
  }
  if (active) {
    long unanswered = 0;
    for (int i = 0; i < nconn; i++) unanswered += conns[i].state == WAITING;
    printf("requests=%ld errors=%ld unanswered=%ld p50_us=%ld p99_us=%ld max_us=%ld\n", requests, errors, unanswered, percentile(50), percentile(99), max_us);
    return 0;
  }
  long established = 0;
  for (int i = 0; i < nconn; i++) established += conns[i].state == IDLE;
  printf("established=%ld errors=%ld setup_ms=%.0f\n", established, errors + (nconn - done), (now() - t0) * 1000);
  fflush(stdout);
  hold(conns);
  return 0;
}
