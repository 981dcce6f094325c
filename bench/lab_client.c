// Load generator of `epollkit lab et-vs-lt`, so that Node's net is not what bounds the server. One thread,
// one level-triggered epoll loop over every connection, TCP_NODELAY, 127.0.0.1. Output: one line of key=value.
//   lab_client pingpong PORT CONNS MSG CHUNK COUNT  each connection sends COUNT messages of MSG bytes, each
//       written as write()s of CHUNK bytes, and waits for the whole echo before the next: exactly CONNS*COUNT
//       requests, however the bytes are split on the way.
//   lab_client strand PORT CONNS MSG WAITMS  each connection sends one MSG-byte message, then reads the echo
//       until nothing has arrived for WAITMS: what the server never echoed is stranded in its socket.
//   lab_client starve PORT CONNS MSG SECONDS  connection 0 streams MSG*64-byte writes as fast as the server
//       takes them; the others ping-pong MSG bytes; prints every connection's echoed bytes.
// A connection that makes no progress for 10 s (pingpong, starve) ends the run with exit status 2.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/epoll.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void die(const char *what) { perror(what); exit(1); }

static int dial(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Writes one message in CHUNK-sized write()s; the socket is blocking, so each write completes.
static void send_message(int fd, const char *msg, long size, long chunk) {
  for (long off = 0; off < size;) {
    long n = size - off < chunk ? size - off : chunk;
    ssize_t w = write(fd, msg + off, n);
    if (w < 0) { if (errno == EINTR) continue; die("write"); }
    off += w;
  }
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s pingpong|strand|starve PORT CONNS MSG ...\n", argv[0]); return 1; }
  const char *mode = argv[1];
  int port = atoi(argv[2]), nc = atoi(argv[3]);
  long size = atol(argv[4]);
  int pingpong = !strcmp(mode, "pingpong"), strand = !strcmp(mode, "strand"), starve = !strcmp(mode, "starve");
  if (!pingpong && !strand && !starve) { fprintf(stderr, "unknown mode %s\n", mode); return 1; }
  if (pingpong && argc < 7) { fprintf(stderr, "pingpong needs CHUNK COUNT\n"); return 1; }
  long chunk = pingpong ? atol(argv[5]) : size, count = pingpong ? atol(argv[6]) : 1;
  double waitms = strand ? atof(argv[5]) : 0, secs = starve ? atof(argv[5]) : 0;
  long bulk = size * 64;
  char *msg = malloc(bulk), buf[65536];
  memset(msg, 'x', bulk);
  int *fds = calloc(nc, sizeof(int)), ep = epoll_create1(0);
  long *got = calloc(nc, sizeof(long)), *sent = calloc(nc, sizeof(long)), *total = calloc(nc, sizeof(long));
  for (int i = 0; i < nc; i++) {
    fds[i] = dial(port);
    struct epoll_event ev = { .events = EPOLLIN | (starve && i == 0 ? EPOLLOUT : 0), .data.u32 = i };
    if (starve && i == 0) fcntl(fds[i], F_SETFL, O_NONBLOCK);
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  double start = now(), end = start + secs, progress = start;
  for (int i = starve ? 1 : 0; i < nc; i++) { send_message(fds[i], msg, size, chunk); sent[i] = 1; }
  int live = nc;
  struct epoll_event evs[1024];
  for (;;) {
    double t = now();
    if (starve && t >= end) break;
    if (pingpong && live == 0) break;
    if (strand && (t - progress) * 1000 >= waitms) break;
    if (!strand && t - progress > 10) { fprintf(stderr, "lab_client: no progress for 10 s\n"); return 2; }
    int n = epoll_wait(ep, evs, 1024, strand ? (int)waitms : 100);
    for (int k = 0; k < n; k++) {
      int i = evs[k].data.u32;
      if (evs[k].events & EPOLLOUT) {  // the bulk sender: as much as the kernel takes
        ssize_t w = write(fds[i], msg, bulk);
        if (w < 0 && errno != EAGAIN) die("write");
      }
      if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(fds[i], buf, sizeof buf);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) { fprintf(stderr, "lab_client: connection %d closed by the server\n", i); return 1; }
      progress = now();
      got[i] += r;
      total[i] += r;
      if (!pingpong && !(starve && i > 0)) continue;
      if (got[i] < size) continue;
      got[i] -= size;
      if (pingpong && sent[i] == count) { epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL); live--; continue; }
      send_message(fds[i], msg, size, chunk);
      sent[i]++;
    }
  }
  double el = now() - start;
  if (pingpong) {
    printf("requests=%ld secs=%.6f\n", (long)nc * count, el);
  } else if (strand) {
    long stranded = 0, conns = 0;
    for (int i = 0; i < nc; i++) if (total[i] < size) { stranded += size - total[i]; conns++; }
    printf("stranded_bytes=%ld stranded_conns=%ld sent_bytes=%ld secs=%.6f\n", stranded, conns, (long)nc * size, el);
  } else {
    printf("secs=%.6f bytes=", el);
    for (int i = 0; i < nc; i++) printf(i ? ",%ld" : "%ld", total[i]);
    printf("\n");
  }
  for (int i = 0; i < nc; i++) close(fds[i]);
  return 0;
}
