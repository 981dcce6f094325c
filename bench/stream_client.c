// Integrity client for the reliability tests: no byte of an echo stream lost, duplicated or reordered.
// usage: stream_client [-c CONNS] [-a ACTIVE] [-b TOTAL_BYTES] [-k MAX_CHUNK] [-p MAX_PAUSE_MS] [-r SEED] [-t STUCK_S] PORT
// CONNS connections (at most ACTIVE open at once) share TOTAL_BYTES of pseudo-random data, each a random
// length. Each sends its stream in chunks of 1 B .. MAX_CHUNK (log-uniform, so small and large ones both
// occur), pausing up to MAX_PAUSE_MS between chunks at random; it reads the echo at the same time but now
// and then stops reading (and sends without pauses) for up to 5 * MAX_PAUSE_MS (a long stream on a small
// MSS once for up to 50) or until its own send(2) finds no room: counted as backpressure, the server's
// send(2) went partial, it had to wait for EPOLLOUT and stop reading. When all is sent it
// half-closes (shutdown(2) SHUT_WR) and reads to EOF. SHA-256 of the bytes send(2) accepted is compared with
// SHA-256 of the bytes recv(2) returned; the echo is also compared byte by byte with the regenerated stream,
// which names the first wrong offset. A connection with no progress for STUCK_S seconds counts as stuck.
// Prints one line of key=value (conns, bytes, echoed, mismatches, stuck, errors, secs, mbps, ...) on stdout
// and one line per failed connection on stderr. One thread, level-triggered epoll(7), nonblocking sockets.
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

// ---- SHA-256 (FIPS 180-4), small and slow enough: the client hashes each byte twice. ----
typedef struct { uint32_t h[8]; uint64_t len; unsigned char buf[64]; int n; } sha256_t;
static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))
static void sha_block(sha256_t *s, const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | p[4 * i + 1] << 16 | p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ w[i - 15] >> 3, s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ w[i - 2] >> 10;
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}
static void sha_init(sha256_t *s) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0); s->len = 0; s->n = 0;
}
static void sha_update(sha256_t *s, const unsigned char *p, size_t n) {
  s->len += n;
  while (n) {
    if (s->n == 0 && n >= 64) { sha_block(s, p); p += 64; n -= 64; continue; }
    size_t k = 64 - s->n < n ? 64 - s->n : n;
    memcpy(s->buf + s->n, p, k); s->n += k; p += k; n -= k;
    if (s->n == 64) { sha_block(s, s->buf); s->n = 0; }
  }
}
static void sha_hex(sha256_t s, char out[65]) {  // by value: the running hash stays usable
  uint64_t bits = s.len * 8;
  unsigned char pad = 0x80, zero = 0, len[8];
  sha_update(&s, &pad, 1);
  while (s.n != 56) sha_update(&s, &zero, 1);
  for (int i = 0; i < 8; i++) len[i] = bits >> (56 - 8 * i);
  sha_update(&s, len, 8);
  for (int i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", s.h[i]);
}

// ---- The data: byte `off` of connection `id`'s stream, computable at any offset (counter-based), so a
// partial send needs no kept copy and the echo can be checked where it lands. ----
static uint64_t seed = 1;
static uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ x >> 27) * 0x94d049bb133111ebull;
  return x ^ x >> 31;
}
static void fill(int id, uint64_t off, unsigned char *p, size_t n) {
  uint64_t key = mix(seed ^ (uint64_t)id << 32);
  size_t i = 0;
  for (; i < n && (off + i) % 8; i++) p[i] = mix(key + (off + i) / 8) >> (8 * ((off + i) % 8));
  for (; i + 8 <= n; i += 8) { uint64_t word = mix(key + (off + i) / 8); memcpy(p + i, &word, 8); }  // little-endian: byte b is bits 8b..
  for (; i < n; i++) p[i] = mix(key + (off + i) / 8) >> (8 * ((off + i) % 8));
}
static uint64_t rng_state;
static uint64_t rnd(uint64_t n) { rng_state = mix(rng_state); return n ? rng_state % n : 0; }

// ---- Connections ----
enum { WAITING, OPEN, DONE };
typedef struct {
  int id, fd, state, shut, watched;
  uint64_t length, sent, echoed, chunk_end, first_diff;
  uint64_t hold_at;  // when this much has come back, one long read stall (0: none)
  int heavy;
  double send_at, read_at, progress_at;  // not before send_at / read_at: a pause or a read stall
  sha256_t sent_sha, echo_sha;
} conn_t;

static int nconn = 100, active = 100, port, ep, max_pause_ms = 20;
static uint64_t total = 32ull << 20, max_chunk = 256 << 10;
static double stuck_s = 20;
static long mismatches, stuck, errors, chunks, partial_sends, send_eagain, read_stalls, send_pauses, backpressure;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

// Interest follows the pauses; with none left the fd leaves the epoll set, or a peer's hang-up (always
// reported) would wake the loop for the whole of a read stall.
static void watch(conn_t *c) {
  double t = now();
  uint32_t ev = (c->read_at <= t ? EPOLLIN : 0) | (!c->shut && c->send_at <= t ? EPOLLOUT : 0);
  struct epoll_event e = { .events = ev, .data.ptr = c };
  if (ev) epoll_ctl(ep, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e);
  else if (c->watched) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, &e);
  c->watched = ev != 0;
}

static void open_conn(conn_t *c) {
  static const int one = 1;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Half the connections look like Ethernet ones: an MSS of 1460 (announced in the SYN, so the server's
  // send buffer autotunes to a few hundred KiB instead of the MiBs a 64 KiB loopback MSS earns) and small
  // buffers here; so a read stall soon fills them all and the server's send(2) returns EAGAIN.
  if (c->id % 2) {
    int small = 16 << 10, mss = 1460;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
  }
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) { perror("connect"); exit(1); }
  sha_init(&c->sent_sha); sha_init(&c->echo_sha);
  c->state = OPEN; c->first_diff = UINT64_MAX;
  c->hold_at = c->heavy ? 64 << 10 : 0;
  c->send_at = c->read_at = c->progress_at = now();
  watch(c);
}

// Ends a connection and says whether its echo was the stream it sent.
static void finish(conn_t *c, const char *why) {
  char want[65], got[65];
  sha_hex(c->sent_sha, want); sha_hex(c->echo_sha, got);
  int ok = !why && c->sent == c->length && c->echoed == c->sent && !strcmp(want, got);
  if (!ok) {
    mismatches += !why;  // the stream ended and was not what was sent (stuck and errors are counted apart)
    fprintf(stderr, "conn %d: %s length=%llu sent=%llu echoed=%llu sha_sent=%s sha_echo=%s first_wrong_offset=%lld\n", c->id,
            why ? why : "mismatch", (unsigned long long)c->length, (unsigned long long)c->sent, (unsigned long long)c->echoed, want, got,
            c->first_diff == UINT64_MAX ? -1 : (long long)c->first_diff);
  }
  close(c->fd); c->fd = -1; c->state = DONE; c->watched = 0;
}

static void on_writable(conn_t *c, unsigned char *buf) {
  if (c->sent == c->chunk_end) c->chunk_end = c->sent + 1 + (rnd(1ull << rnd(19)) % max_chunk), chunks++;
  if (c->chunk_end > c->length) c->chunk_end = c->length;
  size_t n = c->chunk_end - c->sent;
  if (n > 65536) n = 65536;  // one send(2) at most per readiness from the scratch buffer; the chunk goes on next time
  fill(c->id, c->sent, buf, n);
  ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN) { errors++; finish(c, "send-error"); return; }
  if (w < 0) send_eagain++;
  else if ((size_t)w < n) partial_sends++;
  if (w < (ssize_t)n && c->hold_at == 0 && c->heavy && c->read_at > now()) {
    // Our send buffer is full during the long read stall: the server stopped reading, its own send(2)
    // having found no room (if it buffered without bound, this would not happen). The stall has done its job.
    c->read_at = 0; backpressure++; c->heavy = 0; watch(c);
  }
  if (w < 0) return;
  sha_update(&c->sent_sha, buf, w);
  c->sent += w; c->progress_at = now();
  if (c->sent == c->length) { shutdown(c->fd, SHUT_WR); c->shut = 1; }
  else if (c->sent == c->chunk_end && max_pause_ms && c->read_at <= now() && rnd(8) == 0) c->send_at = now() + rnd(max_pause_ms + 1) / 1e3, send_pauses++;
  else return;
  watch(c);
}

static void on_readable(conn_t *c, unsigned char *buf, unsigned char *want) {
  ssize_t r = recv(c->fd, buf, 65536, 0);
  if (r < 0) { if (errno != EAGAIN) { errors++; finish(c, "reset"); } return; }
  if (r == 0) { finish(c, NULL); return; }  // an early EOF fails the comparison: bytes were lost
  if (c->echoed + r > c->sent) { if (c->first_diff == UINT64_MAX) c->first_diff = c->sent; }  // more than was sent
  else if (c->first_diff == UINT64_MAX) {
    fill(c->id, c->echoed, want, r);
    for (ssize_t i = 0; i < r; i++) if (buf[i] != want[i]) { c->first_diff = c->echoed + i; break; }
  }
  sha_update(&c->echo_sha, buf, r);
  c->echoed += r; c->progress_at = now();
  // Now and then stop reading for up to 5 pauses; once on a heavy stream for 100, which is time enough to
  // back the replies up to us (and then the stall ends early).
  int hold = c->hold_at && c->echoed >= c->hold_at;
  if (hold) c->hold_at = 0;
  if (max_pause_ms && (hold || rnd(16) == 0)) { c->read_at = now() + (hold ? 100 * max_pause_ms : rnd(5 * max_pause_ms + 1)) / 1e3; read_stalls++; watch(c); }
}

int main(int argc, char **argv) {
  int opt, seeded = 0;
  while ((opt = getopt(argc, argv, "c:a:b:k:p:r:t:")) != -1) {
    if (opt == 'c') nconn = atoi(optarg);
    else if (opt == 'a') active = atoi(optarg);
    else if (opt == 'b') total = strtoull(optarg, NULL, 10);
    else if (opt == 'k') max_chunk = strtoull(optarg, NULL, 10);
    else if (opt == 'p') max_pause_ms = atoi(optarg);
    else if (opt == 'r') seed = strtoull(optarg, NULL, 10), seeded = 1;
    else if (opt == 't') stuck_s = atof(optarg);
  }
  if (optind >= argc || nconn < 1 || active < 1 || max_chunk < 1) {
    fprintf(stderr, "usage: %s [-c CONNS] [-a ACTIVE] [-b TOTAL_BYTES] [-k MAX_CHUNK] [-p MAX_PAUSE_MS] [-r SEED] [-t STUCK_S] PORT\n", argv[0]);
    return 2;
  }
  port = atoi(argv[optind]);
  if (!seeded) seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
  rng_state = seed;
  signal(SIGPIPE, SIG_IGN);
  ep = epoll_create1(0);
  // Random lengths that add up to exactly `total`. Every 50th connection (1, 51, ...; up to half the
  // bytes) is heavy: HEAVY bytes on a small MSS, more than the kernel buffers on the way can hold (the
  // server's send buffer autotunes up to tcp_wmem's 4 MiB), so its long read stall backs up into the server.
  // The others are log-uniform over 1..256 times a unit: many short streams, a few 5x the mean.
  enum { HEAVY = 8 << 20 };
  conn_t *conns = calloc(nconn, sizeof(conn_t));
  double *weight = malloc(nconn * sizeof(double)), sum = 0;
  uint64_t heavy = 0, given = 0;
  for (int i = 0; i < nconn; i++) {
    conns[i].id = i; conns[i].fd = -1; conns[i].state = WAITING;
    conns[i].heavy = i % 50 == 1 && (heavy + 1) * HEAVY <= total / 2;
    heavy += conns[i].heavy;
    sum += weight[i] = conns[i].heavy ? 0 : (double)(1 << rnd(8)) * (1 + rnd(1000000) / 1e6);
  }
  for (int i = 0; i < nconn; i++) given += conns[i].length = conns[i].heavy ? HEAVY : (uint64_t)((total - heavy * HEAVY) * (weight[i] / sum));
  conns[0].length += total - given;  // rounding; connection 0 is never heavy
  static unsigned char buf[65536], want[65536];
  struct epoll_event evs[256];
  int next = 0, open = 0, done = 0;
  double start = now();
  while (done < nconn) {
    while (open < active && next < nconn) { open_conn(&conns[next++]); open++; }
    int n = epoll_wait(ep, evs, 256, 2);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c->state == OPEN && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->read_at <= now()) on_readable(c, buf, want);
      if (c->state == OPEN && (evs[k].events & EPOLLOUT) && !c->shut) on_writable(c, buf);
    }
    // Pauses that are over, and connections that stopped moving.
    double t = now();
    for (int i = 0; i < next; i++) {
      conn_t *c = &conns[i];
      if (c->state != OPEN) continue;
      if ((c->read_at && c->read_at <= t) || (c->send_at && c->send_at <= t)) {
        if (c->read_at <= t) c->read_at = 0;
        if (c->send_at <= t) c->send_at = 0;
        watch(c);
      }
      if (t - c->progress_at > stuck_s && c->read_at <= t && c->send_at <= t) { stuck++; finish(c, "stuck"); }
    }
    for (int i = 0; i < next; i++) if (conns[i].state == DONE) { conns[i].state = DONE + 1; open--; done++; }
  }
  double secs = now() - start;
  uint64_t bytes = 0, echoed = 0;
  for (int i = 0; i < nconn; i++) bytes += conns[i].sent, echoed += conns[i].echoed;
  printf("conns=%d bytes=%llu echoed=%llu mismatches=%ld stuck=%ld errors=%ld chunks=%ld partial_sends=%ld send_eagain=%ld send_pauses=%ld read_stalls=%ld backpressure=%ld secs=%.3f mbps=%.1f seed=%llu\n",
         nconn, (unsigned long long)bytes, (unsigned long long)echoed, mismatches, stuck, errors, chunks, partial_sends, send_eagain, send_pauses, read_stalls, backpressure,
         secs, echoed / secs / 1e6, (unsigned long long)seed);
  return 0;
}
