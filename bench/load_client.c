// Load generator for `epollkit bench`: one thread, epoll, nonblocking sockets, every reply checked.
// usage: load_client [-p echo|calc|session] [-m rt|conn] [-c CONNS] [-s MSGSIZE] [-d SECONDS] [-w DRAIN_S] [-n TOTAL] PORT
//   rt   (round trips): CONNS connections opened once, each makes one round trip (not measured; then
//        "ready" is printed); then each sends a request, waits for the whole reply, checks it and sends
//        the next, until SECONDS pass; then replies in flight are awaited (DRAIN_S).
//   conn (connections): CONNS slots, each looping socket, connect, one request, reply, close. Source
//        addresses are spread over 127.0.0.2-9 (IP_BIND_ADDRESS_NO_PORT) so that TIME_WAIT on one
//        address does not cap the rate at the client's port search. -n TOTAL ends the run after TOTAL
//        connections (or SECONDS, whichever is first): a fixed count, for leak tests; rate is then per elapsed second.
// Protocols: echo (MSGSIZE bytes, pattern checked), calc (seed 001: 12-byte LE int32 op,a,b -> LE int32),
// session (seed 004: 16-byte ADD frames by endpoint; the reply's status, id and running total checked).
// Prints one line of key=value: sent = answered (in time) + drained (after) + lost (on a broken connection)
// + unanswered; wrong replies; connection errors; rate; p50/p99 µs.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <fcntl.h>

enum { ECHO, CALC, SESSION };
enum { IDLE, CONNECTING, WAITING };
typedef struct { int fd, state, got; uint32_t seq; double t0; unsigned char req[4096]; } conn_t;

static int proto = ECHO, conn_mode = 0, nconn = 50, msgsize = 64, port, ep;
static long total_limit;  // -n: connections to make in conn mode (0: as many as SECONDS allow)
static double secs = 5, drain = 2;
static long sent, answered, drained, lost, wrong, errors, connects;
#define NB 1000000  // 1 µs latency buckets up to 1 s; slower replies land in the last one
static long hist[NB + 1];
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static int reqsize(void) { return proto == ECHO ? msgsize : proto == CALC ? 12 : 16; }
static int repsize(void) { return proto == ECHO ? msgsize : proto == CALC ? 4 : 16; }
static void put32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static uint32_t get32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

// The request for a connection's seq-th exchange (seq counts from 1 on each connection).
static void build(conn_t *c) {
  uint32_t s = c->seq;
  if (proto == ECHO) { for (int i = 0; i < msgsize; i++) c->req[i] = (unsigned char)(s * 31 + i); return; }
  if (proto == CALC) { put32(c->req, s % 4); put32(c->req + 4, s * 7919u); put32(c->req + 8, s % 97 + 1); return; }
  memset(c->req, 0, 16);
  c->req[0] = 1; c->req[1] = 1;          // version 1, ADD, identified by endpoint (the connection)
  put32(c->req + 8, s); put32(c->req + 12, 1);
}

// Checks `n` reply bytes at offset `off`; calc and session replies are checked whole (off 0, n = size).
static int check(conn_t *c, const unsigned char *b, int off, int n) {
  uint32_t s = c->seq;
  if (proto == ECHO) return memcmp(b, c->req + off, n) == 0;
  if (proto == CALC) {
    int32_t a = (int32_t)(s * 7919u), d = (int32_t)(s % 97 + 1), want;
    switch (s % 4) {  // wrapping arithmetic, as the protocol defines it
      case 0: want = (int32_t)((uint32_t)a + (uint32_t)d); break;
      case 1: want = (int32_t)((uint32_t)a - (uint32_t)d); break;
      case 2: want = (int32_t)((uint32_t)a * (uint32_t)d); break;
      default: want = a / d;
    }
    return (int32_t)get32(b) == want;
  }
  // status OK, op ADD, the request's id, and a total of one per request so far on this connection
  return b[0] == 1 && b[1] == 0 && b[2] == 1 && get32(b + 8) == s && get32(b + 12) == (conn_mode ? 1 : s);
}

static void watch(conn_t *c, int op, uint32_t events) {
  struct epoll_event ev = { .events = events, .data.ptr = c };
  epoll_ctl(ep, op, c->fd, &ev);
}

static int send_request(conn_t *c) {
  c->seq++; build(c); c->got = 0; c->t0 = now();
  ssize_t w = send(c->fd, c->req, reqsize(), MSG_NOSIGNAL);
  if (w != reqsize()) return -1;  // a fresh or drained socket takes a small request whole
  sent++; c->state = WAITING;
  return 0;
}

static void start_conn(conn_t *c, int slot) {
  static const int one = 1;
  if (total_limit && connects >= total_limit) return;
  connects++;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 + slot % 8) };
  bind(c->fd, (struct sockaddr *)&src, sizeof src);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
  c->seq = 0; c->t0 = now(); c->state = CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) { errors++; close(c->fd); c->fd = -1; c->state = IDLE; return; }
  watch(c, EPOLL_CTL_ADD, EPOLLOUT);
}

// Reads what came for a waiting connection: 1 when its reply is whole (and checked), 0 for more to
// come, -1 when the connection broke (closed, reset, or more bytes than were asked for).
static int on_readable(conn_t *c) {
  static unsigned char buf[65536];
  ssize_t r = recv(c->fd, buf, sizeof buf, 0);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (r <= 0 || c->got + r > repsize()) return -1;
  if (proto == ECHO) { if (!check(c, buf, c->got, r)) wrong++; }
  else memcpy(c->req + 2048 + c->got, buf, r);  // reply bytes kept after the request
  c->got += r;
  if (c->got < repsize()) return 0;
  if (proto != ECHO && !check(c, c->req + 2048, 0, repsize())) wrong++;
  return 1;
}

// A connection that broke: a request it had sent is lost (so sent = answered + drained + lost + unanswered).
static void fail(conn_t *c) { errors++; lost += c->state == WAITING; close(c->fd); c->fd = -1; c->state = IDLE; }

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "p:m:c:s:d:w:n:")) != -1) {
    if (opt == 'p') proto = !strcmp(optarg, "calc") ? CALC : !strcmp(optarg, "session") ? SESSION : ECHO;
    else if (opt == 'm') conn_mode = !strcmp(optarg, "conn");
    else if (opt == 'c') nconn = atoi(optarg);
    else if (opt == 's') msgsize = atoi(optarg);
    else if (opt == 'd') secs = atof(optarg);
    else if (opt == 'w') drain = atof(optarg);
    else if (opt == 'n') total_limit = atol(optarg);
  }
  if (optind >= argc || nconn < 1 || msgsize < 1 || msgsize > 4096) {
    fprintf(stderr, "usage: %s [-p echo|calc|session] [-m rt|conn] [-c CONNS] [-s MSGSIZE 1..4096] [-d SECONDS] [-w DRAIN_S] [-n TOTAL] PORT\n", argv[0]);
    return 2;
  }
  port = atoi(argv[optind]);
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  conn_t *conns = calloc(nconn, sizeof(conn_t));
  for (int i = 0; i < nconn; i++) conns[i].fd = -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
  for (int i = 0; i < nconn; i++) {
    conn_t *c = &conns[i];
    if (conn_mode) { start_conn(c, i); continue; }
    // Round trips: a blocking connect (an iterative server's backlog completes it too), then nonblocking I/O.
    static const int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    watch(c, EPOLL_CTL_ADD, EPOLLIN);
    connects++;
  }
  struct epoll_event evs[1024];
  if (!conn_mode) {
    // Not measured: one round trip on every connection first, so that what a model pays once per
    // connection (an accept, a thread, a process) is paid before the clock starts. "ready" says when.
    int pending = nconn;
    for (int i = 0; i < nconn; i++) if (send_request(&conns[i])) { perror("send"); return 1; }
    for (double limit = now() + 60; pending > 0;) {
      if (now() > limit) { fprintf(stderr, "setup: %d connections never answered\n", pending); return 1; }
      int n = epoll_wait(ep, evs, 1024, 100);
      for (int k = 0; k < n; k++) {
        conn_t *c = evs[k].data.ptr;
        int got = c->state == WAITING ? on_readable(c) : 0;
        if (got < 0) { fprintf(stderr, "setup: a connection broke\n"); return 1; }
        if (got > 0) { c->state = IDLE; pending--; }
      }
    }
    sent = 0;
    printf("ready\n");
    fflush(stdout);
  }
  double start = now(), end = start + secs, stop = end + drain, t;
  if (!conn_mode) for (int i = 0; i < nconn; i++) if (send_request(&conns[i])) fail(&conns[i]);
  long inflight = 0;
  while ((t = now()) < stop) {
    inflight = 0;
    for (int i = 0; i < nconn; i++) inflight += conns[i].state != IDLE;
    if ((t >= end || (total_limit && connects >= total_limit)) && inflight == 0) break;
    int n = epoll_wait(ep, evs, 1024, 10);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c->state == CONNECTING) {
        int err = 0; socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || send_request(c)) { fail(c); continue; }
        watch(c, EPOLL_CTL_MOD, EPOLLIN);
        continue;
      }
      if (c->state != WAITING) continue;
      int got = on_readable(c);
      if (got < 0) { fail(c); continue; }
      if (got == 0) continue;
      double tn = now();
      long us = (long)((tn - c->t0) * 1e6);
      hist[us > NB ? NB : us]++;
      if (tn < end) answered++; else drained++;
      c->state = IDLE;
      if (conn_mode) {
        close(c->fd); c->fd = -1;
        if (tn < end) start_conn(c, (int)(c - conns));
      } else if (tn < end && send_request(c)) fail(c);
    }
    // conn mode: a slot whose connect failed outright starts again
    if (conn_mode && t < end) for (int i = 0; i < nconn; i++) if (conns[i].state == IDLE) start_conn(&conns[i], i);
  }
  if (total_limit && connects >= total_limit && now() < end) secs = now() - start;  // ended by count: per elapsed second
  long unanswered = 0;
  for (int i = 0; i < nconn; i++) { unanswered += conns[i].state != IDLE; if (conns[i].fd >= 0) close(conns[i].fd); }
  long total = answered + drained, c = 0, p50 = -1, p99 = -1;
  for (int b = 0; b <= NB && total; b++) { c += hist[b]; if (p50 < 0 && c * 2 >= total) p50 = b; if (p99 < 0 && c * 100 >= total * 99) { p99 = b; break; } }
  printf("mode=%s protocol=%s conns=%d sent=%ld answered=%ld drained=%ld lost=%ld wrong=%ld errors=%ld unanswered=%ld connects=%ld secs=%.3f rate=%.0f p50_us=%ld p99_us=%ld\n",
         conn_mode ? "conn" : "rt", proto == ECHO ? "echo" : proto == CALC ? "calc" : "session", nconn, sent, answered, drained, lost, wrong,
         errors, unanswered, connects, secs, answered / secs, p50, p99);
  return 0;
}
