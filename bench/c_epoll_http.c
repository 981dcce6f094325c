// The C reference of `epollkit bench http` (from shared/anchors/c_epoll_http.c, the server of the baselines):
// single-threaded level-triggered epoll HTTP/1.1 keep-alive server that answers every request end ("\r\n\r\n")
// with one file held in memory (header + body, one write). The practical speed limit. usage: c_epoll_http FILE PORT
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include "loopback.h"

#define MAXFD 65536
typedef struct { int m; long pending; size_t off; int out; } conn_t; // m: \r\n\r\n match state
static conn_t conns[MAXFD];
static char *resp; static size_t resp_len;
static int ep;

static void closeconn(int fd) { epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); close(fd); memset(&conns[fd], 0, sizeof(conn_t)); }

// write as much of the pending responses as possible; return -1 on fatal error
static int flush(int fd) {
  conn_t *c = &conns[fd];
  while (c->pending > 0) {
    ssize_t w = write(fd, resp + c->off, resp_len - c->off);
    if (w < 0) { if (errno == EAGAIN) break; if (errno == EINTR) continue; return -1; }
    c->off += w;
    if (c->off == resp_len) { c->off = 0; c->pending--; }
  }
  int want = c->pending > 0;
  if (want != c->out) {
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = fd };
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev); c->out = want;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s FILE PORT\n", argv[0]); return 1; }
  signal(SIGPIPE, SIG_IGN);
  int f = open(argv[1], O_RDONLY); struct stat st; fstat(f, &st);
  char hdr[256];
  int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nServer: cepoll\r\nContent-Type: text/html\r\n"
                    "Content-Length: %ld\r\nConnection: keep-alive\r\n\r\n", (long)st.st_size);
  resp_len = hl + st.st_size; resp = malloc(resp_len); memcpy(resp, hdr, hl);
  if (read(f, resp + hl, st.st_size) != st.st_size) { perror("read"); return 1; }
  close(f);

  int ls = loopback_listener(atoi(argv[2])), one = 1;
  ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[512]; char buf[16384];
  for (;;) {
    int n = epoll_wait(ep, evs, 512, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        for (;;) {
          int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          if (c >= MAXFD) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      conn_t *c = &conns[fd];
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { closeconn(fd); continue; }
        for (ssize_t k = 0; k < r; k++) {   // count request ends across reads
          char ch = buf[k];
          if (ch == '\r') c->m = (c->m == 2) ? 3 : 1;
          else if (ch == '\n' && (c->m == 1 || c->m == 3)) { if (c->m == 3) { c->pending++; c->m = 0; } else c->m = 2; }
          else c->m = 0;
        }
      }
      if (c->pending > 0 && flush(fd) < 0) closeconn(fd);
    }
  }
}
