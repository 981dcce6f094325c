// Hostile clients for the reliability tests (test/reliability/): one thread, epoll (edge-triggered),
// nonblocking sockets. Each role misbehaves in one way a server must survive; the well-behaved role measures
// what that costs everyone else. Source addresses are spread over 127.0.0.2-9 (IP_BIND_ADDRESS_NO_PORT), so
// that a flood's TIME_WAITs do not exhaust one address's ports.
// usage: hostile_client [-p echo|http] [-d SECONDS] [-e] [-S SLOW] [-i SLOW_INTERVAL_MS] [-I IDLE] [-N NOREAD]
//          [-R RESET] [-H HALFCLOSE] [-F FLOOD] [-f FLOOD_CONCURRENCY] [-G GOOD] [-t THINK_MS] [-T HELD]
//          [-b BIG_BYTES] [-c CYCLE_PAUSE_MS] PORT
//   slow       slowloris: a request head (http) or a byte (echo), then one byte every SLOW_INTERVAL_MS; when the
//              server closes it (http: 408 after its header timeout), it connects again
//   idle       connects and never sends
//   noread     sends (echo: bytes; http: pipelined GETs of /small.bin) and never reads: only the server's
//              backpressure stops it; "stalled" is printed once no noread connection has progressed for 300 ms
//   reset      asks for a large reply (echo: sends >= 1 MiB; http: GET /big.bin), reads 64 KiB of it, then closes
//              with SO_LINGER 0 (a RST while the reply is in flight); again CYCLE_PAUSE_MS later, until the end
//   halfclose  sends its request (echo: 256 KiB), shutdown(SHUT_WR), reads the reply to EOF, checks every byte; again
//              CYCLE_PAUSE_MS later (the pause keeps these loops a nuisance rather than a throughput benchmark)
//   flood      FLOOD connects, FLOOD_CONCURRENCY at a time, each closed as soon as it is established; it starts 200 ms
//              in (once the others are connected: a flood fills the server's accept queue, and a SYN that finds it
//              full waits a second for its retransmission)
//   good       keep-alive request/reply (echo: 512 B; http: GET /small.bin), every byte checked, THINK_MS apart;
//              latency measured from the first byte sent to the last byte received
//   held       one echo round trip, then holds the connection; one closed before its reply (refused, e.g. by a
//              server out of fds) connects again 20 ms later
// Bodies (echo streams, /big.bin, /small.bin) are pattern(i) = (i * 2654435761 mod 2^32) >> 24 at stream offset i.
// Runs SECONDS and until every role has shown its effect once (see shown()), or with -e until stdin closes (then
// "progress" lines every 200 ms). Last line: "result k=v ...".
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SLOW, IDLE, NOREAD, RESET, HALFCLOSE, FLOOD, GOOD, HELD, NROLES };
enum { CLOSED, CONNECTING, OPEN, WAITING_TIMER };
#define ECHO_GOOD 512
#define ECHO_HALFCLOSE (256 * 1024)
#define RESET_READ (64 * 1024)
#define RESET_SENT (1024 * 1024)

typedef struct {
  int fd, role, state, slot, bad, saw408, shut, held, answered_once;
  long sent, recvd, goal;  // outgoing stream offset, incoming stream offset, bytes to send (-1: no end)
  long progress_at_ms;     // noread: when the last send took bytes
  double t0, wake;         // request start; when the timer fires (0: none)
  int headlen, status;     // http response parser
  long clen, body;
  char head[2048];
} conn_t;

static int http, port, ep, stdin_ends, slow_ms = 1000, think_ms = 5, cycle_ms = 50;
static long big = 8 << 20;  // the size of /big.bin, which the half-closer checks
static double secs = 3;
static int counts[NROLES], flood_total, flood_conc = 100;
static long flood_started, flood_ok, flood_errors;
static long slow_closed, slow_408, idle_closed, noread_pushed, resets, reset_early, half_ok, half_bad;
static long good_done, good_errors, good_wrong, good_conns_answered, held_refused, held_lost, connect_errors;
static int stalled_said;
static double *lat;
static long nlat, caplat;
static const char *small_req = "GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n";
static const char *big_req = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
static const char *slow_head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static unsigned char pattern(long i) { return (unsigned char)(((uint32_t)i * 2654435761u) >> 24); }
static const char *request_of(conn_t *c) { return c->role == RESET || c->role == HALFCLOSE ? big_req : small_req; }

// The byte at offset `off` of the connection's outgoing stream.
static unsigned char out_byte(conn_t *c, long off) {
  if (!http) return pattern(off);
  const char *r = request_of(c);
  return (unsigned char)r[off % (long)strlen(r)];
}

static void start(conn_t *c);

static void drop(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = CLOSED;
}

// Ends with a RST rather than a FIN: SO_LINGER on, zero seconds (socket(7)).
static void reset_close(conn_t *c) {
  struct linger l = { 1, 0 };
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  drop(c);
}

static void again_in(conn_t *c, int ms) { drop(c); c->state = WAITING_TIMER; c->wake = now() + ms / 1000.0; }

// Sends the outgoing stream up to `goal` until EAGAIN; the half-closer shuts its side when it is all out.
static int pump(conn_t *c) {
  static unsigned char buf[65536];
  while (c->goal < 0 || c->sent < c->goal) {
    long n = c->goal < 0 ? (long)sizeof buf : c->goal - c->sent;
    if (n > (long)sizeof buf) n = sizeof buf;
    for (long i = 0; i < n; i++) buf[i] = out_byte(c, c->sent + i);
    ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    c->sent += w;
    if (c->role == NOREAD) { noread_pushed += w; c->progress_at_ms = (long)(now() * 1000); }
  }
  if (c->role == HALFCLOSE && !c->shut) { shutdown(c->fd, SHUT_WR); c->shut = 1; }
  return 0;
}

static void request(conn_t *c) {
  c->t0 = now();
  c->goal += http ? (long)strlen(small_req) : (c->role == HELD ? 16 : ECHO_GOOD);
  c->headlen = 0; c->status = 0; c->clen = -1; c->body = 0;
}

// Feeds reply bytes to the HTTP response parser: 1 once a whole response (head + Content-Length body, every
// body byte the pattern) is in, 0 for more to come, -1 when something is wrong.
static int http_feed(conn_t *c, const unsigned char *b, long n) {
  long i = 0;
  while (c->clen < 0 && i < n) {
    if (c->headlen >= (int)sizeof c->head - 1) return -1;
    c->head[c->headlen++] = b[i++];
    c->head[c->headlen] = 0;
    if (c->headlen < 4 || strcmp(c->head + c->headlen - 4, "\r\n\r\n")) continue;
    if (sscanf(c->head, "HTTP/1.1 %d", &c->status) != 1) return -1;
    char *cl = strcasestr(c->head, "\r\nContent-Length:");
    c->clen = cl ? atol(cl + 17) : 0;
  }
  if (c->clen < 0) return 0;
  for (; i < n; i++, c->body++) if (c->body >= c->clen || b[i] != pattern(c->body)) return -1;
  return c->body == c->clen ? 1 : 0;
}

// Checks echoed bytes against the stream sent: 1 once all that was sent came back.
static int echo_feed(conn_t *c, const unsigned char *b, long n) {
  for (long i = 0; i < n; i++) if (b[i] != pattern(c->recvd + i)) return -1;
  return c->recvd + n == c->goal ? 1 : c->recvd + n > c->goal ? -1 : 0;
}

static void record_latency(double us) {
  if (nlat == caplat) { caplat = caplat ? caplat * 2 : 4096; lat = realloc(lat, caplat * sizeof *lat); }
  lat[nlat++] = us;
}

static void on_connected(conn_t *c) {
  c->state = OPEN;
  switch (c->role) {
    case SLOW:
      if (http) send(c->fd, slow_head, strlen(slow_head), MSG_NOSIGNAL);
      else send(c->fd, "s", 1, MSG_NOSIGNAL);
      c->wake = now() + slow_ms / 1000.0;
      break;
    case NOREAD: c->goal = -1; c->progress_at_ms = (long)(now() * 1000); pump(c); break;
    case RESET: c->goal = http ? (long)strlen(big_req) : 4 * RESET_SENT; pump(c); break;
    case HALFCLOSE: c->goal = http ? (long)strlen(big_req) : ECHO_HALFCLOSE; c->headlen = 0; c->clen = -1; c->body = 0; pump(c); break;
    case GOOD: case HELD: request(c); pump(c); break;
    case FLOOD: flood_ok++; drop(c); start(c); break;
  }
}

// The connection ended (EOF, reset, or a failed connect): count what that means for its role, and go again.
static void on_closed(conn_t *c, int failed_connect) {
  if (failed_connect) connect_errors++;
  switch (c->role) {
    case SLOW: slow_closed += !failed_connect; slow_408 += c->saw408; again_in(c, 0); return;
    case IDLE: idle_closed++; drop(c); return;
    case NOREAD: drop(c); return;
    case RESET: reset_early++; again_in(c, cycle_ms); return;
    case HALFCLOSE: {
      int ok = !c->bad && (http ? c->status == 200 && c->clen == big && c->body == big : c->recvd == ECHO_HALFCLOSE);
      if (ok) half_ok++; else half_bad++;
      again_in(c, cycle_ms);
      return;
    }
    case FLOOD: flood_errors++; drop(c); start(c); return;
    case GOOD: good_errors++; again_in(c, 20); return;
    case HELD:
      if (c->held) held_lost++; else held_refused++;
      again_in(c, 20);
      return;
  }
}

static void on_data(conn_t *c, const unsigned char *b, long n) {
  int done = 0;
  switch (c->role) {
    case SLOW: if (http && c->recvd == 0 && n >= 12 && !memcmp(b, "HTTP/1.1 408", 12)) c->saw408 = 1; break;
    case RESET: break;
    case HALFCLOSE: case GOOD: case HELD:
      done = http && c->role != HELD ? http_feed(c, b, n) : echo_feed(c, b, n);
      if (done < 0) c->bad = 1;
      break;
  }
  c->recvd += n;
  if (c->role == RESET && c->recvd >= RESET_READ && (http || c->sent >= RESET_SENT)) { resets++; reset_close(c); again_in(c, cycle_ms); return; }
  if (c->bad && c->role == GOOD) { good_wrong++; drop(c); start(c); return; }
  if (done != 1) return;
  if (c->role == GOOD) {
    if (!http || c->status == 200) { good_done++; record_latency((now() - c->t0) * 1e6); } else good_wrong++;
    if (!c->answered_once) { c->answered_once = 1; good_conns_answered++; }
    c->wake = now() + think_ms / 1000.0;
  } else if (c->role == HELD) c->held = 1;
}

static void on_event(conn_t *c, uint32_t ev) {
  static unsigned char buf[65536];
  if (c->state == CONNECTING) {
    int err = 0; socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || !(ev & EPOLLOUT)) { on_closed(c, 1); return; }
    on_connected(c);
    if (c->state != OPEN) return;
  }
  if (c->role != NOREAD) {
    for (;;) {
      ssize_t r = recv(c->fd, buf, sizeof buf, 0);
      if (r > 0) { on_data(c, buf, r); if (c->state != OPEN) return; continue; }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      on_closed(c, 0);
      return;
    }
  } else if (ev & (EPOLLERR | EPOLLHUP)) { on_closed(c, 0); return; }
  if ((ev & EPOLLOUT) && pump(c) < 0) on_closed(c, 0);
}

static void start(conn_t *c) {
  static const int one = 1;
  if (c->role == FLOOD) {
    if (flood_started >= flood_total) return;
    flood_started++;
  }
  memset(&c->sent, 0, sizeof *c - offsetof(conn_t, sent));
  c->bad = c->saw408 = c->shut = c->held = 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002 + c->slot % 8) };
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
  c->state = CONNECTING;
  if (bind(c->fd, (struct sockaddr *)&src, sizeof src) || (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) && errno != EINPROGRESS)) {
    connect_errors++;
    if (c->role == FLOOD) { flood_errors++; drop(c); start(c); } else again_in(c, 20);
    return;
  }
  // No EPOLLIN for noread: it never reads, and only a hangup (always reported) matters to it.
  struct epoll_event e = { .events = EPOLLOUT | EPOLLET | (c->role == NOREAD ? 0 : EPOLLIN | EPOLLRDHUP), .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

// Timers: the slowloris's next byte, the good client's next request, a connection's retry.
static void on_timer(conn_t *c) {
  c->wake = 0;
  if (c->state == WAITING_TIMER) { start(c); return; }
  if (c->role == SLOW) {
    send(c->fd, "a", 1, MSG_NOSIGNAL);
    c->wake = now() + slow_ms / 1000.0;
  } else if (c->role == GOOD) {
    request(c);
    if (pump(c) < 0) on_closed(c, 0);
  }
}

// Whether every role has shown its effect once: the flood done, the never-readers stuck, a reset, a half-close,
// (http) as many slowloris closes as slowloris clients, and every good connection answered (a server whose
// workers are still starting has not). A run lasts SECONDS and then until this holds (30 s more at most): on a
// loaded machine a fixed time alone may end before the server has been tried.
static int shown(void) {
  return flood_ok + flood_errors >= flood_total && (!counts[NOREAD] || stalled_said) && (!counts[RESET] || resets) &&
         (!counts[HALFCLOSE] || half_ok + half_bad) && (!http || slow_closed >= counts[SLOW]) && good_conns_answered >= counts[GOOD];
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
  static const char roles[] = "SINRH?GT";  // the option letter of each role's count, in role order (flood: -F)
  int opt;
  while ((opt = getopt(argc, argv, "p:d:ei:S:I:N:R:H:F:f:G:t:T:b:c:")) != -1) {
    const char *r = opt == '?' ? NULL : strchr(roles, opt);
    if (r) counts[r - roles] = atoi(optarg);
    else if (opt == 'p') http = !strcmp(optarg, "http");
    else if (opt == 'd') secs = atof(optarg);
    else if (opt == 'e') stdin_ends = 1;
    else if (opt == 'i') slow_ms = atoi(optarg);
    else if (opt == 'F') flood_total = atoi(optarg);
    else if (opt == 'f') flood_conc = atoi(optarg);
    else if (opt == 't') think_ms = atoi(optarg);
    else if (opt == 'b') big = atol(optarg);
    else if (opt == 'c') cycle_ms = atoi(optarg);
    else { fprintf(stderr, "usage: see the head of hostile_client.c\n"); return 2; }
  }
  if (optind >= argc) { fprintf(stderr, "usage: see the head of hostile_client.c\n"); return 2; }
  port = atoi(argv[optind]);
  counts[FLOOD] = flood_total < flood_conc ? flood_total : flood_conc;
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  int total = 0;
  for (int r = 0; r < NROLES; r++) total += counts[r];
  conn_t *conns = calloc(total ? total : 1, sizeof(conn_t));
  for (int r = 0, i = 0; r < NROLES; r++)
    for (int k = 0; k < counts[r]; k++, i++) {
      conn_t *c = &conns[i];
      c->role = r; c->slot = i; c->fd = -1;
      if (r == FLOOD) { c->state = WAITING_TIMER; c->wake = now() + 0.2; } else start(c);
    }
  if (stdin_ends) { struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL }; epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e); }
  struct epoll_event evs[1024];
  double t0 = now(), end = t0 + secs, next_progress = t0;
  int running = 1;
  while (running && (stdin_ends || ((now() < end || !shown()) && now() < end + 30))) {
    int n = epoll_wait(ep, evs, 1024, 5);
    for (int k = 0; k < n; k++) {
      if (!evs[k].data.ptr) { running = 0; break; }  // stdin closed (or spoke): the test is done with us
      on_event(evs[k].data.ptr, evs[k].events);
    }
    double t = now();
    for (int i = 0; i < total; i++) if (conns[i].wake && conns[i].wake <= t) on_timer(&conns[i]);
    if (counts[NOREAD] && !stalled_said) {
      long last = 0, connected = 1;
      for (int i = 0; i < total; i++) {
        if (conns[i].role != NOREAD) continue;
        connected &= conns[i].progress_at_ms > 0;
        if (conns[i].progress_at_ms > last) last = conns[i].progress_at_ms;
      }
      if (connected && t * 1000 - last >= 300) { printf("stalled pushed=%ld\n", noread_pushed); fflush(stdout); stalled_said = 1; }
    }
    if (stdin_ends && t >= next_progress) {
      int held = 0;
      for (int i = 0; i < total; i++) held += conns[i].role == HELD && conns[i].held && conns[i].state == OPEN;
      printf("progress held=%d refused=%ld lost=%ld connect_errors=%ld\n", held, held_refused, held_lost, connect_errors);
      fflush(stdout);
      next_progress = t + 0.2;
    }
  }
  int slow_open = 0, idle_open = 0, noread_open = 0, held = 0;
  for (int i = 0; i < total; i++) {
    conn_t *c = &conns[i];
    int open = c->state == OPEN;
    slow_open += c->role == SLOW && open;
    idle_open += c->role == IDLE && open;
    noread_open += c->role == NOREAD && open;
    held += c->role == HELD && c->held && open;
    drop(c);
  }
  qsort(lat, nlat, sizeof *lat, cmp);
  double p50 = nlat ? lat[nlat / 2] : -1, p99 = nlat ? lat[(long)(nlat * 0.99)] : -1;
  printf("result secs=%.3f slow_closed=%ld slow_408=%ld slow_open=%d idle_closed=%ld idle_open=%d noread_pushed=%ld noread_open=%d "
         "resets=%ld reset_early=%ld half_ok=%ld half_bad=%ld flood_ok=%ld flood_errors=%ld flood_unfinished=%ld "
         "good_done=%ld good_errors=%ld good_wrong=%ld p50_us=%.0f p99_us=%.0f held=%d held_refused=%ld held_lost=%ld connect_errors=%ld\n",
         now() - t0, slow_closed, slow_408, slow_open, idle_closed, idle_open, noread_pushed, noread_open, resets, reset_early, half_ok,
         half_bad, flood_ok, flood_errors, flood_total - flood_ok - flood_errors, good_done, good_errors, good_wrong, p50, p99, held,
         held_refused, held_lost, connect_errors);
  return 0;
}
