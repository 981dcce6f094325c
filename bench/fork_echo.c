// Fork-per-connection echo server, the C reference for ForkingServer (from ../shared/anchors/fork_echo.c).
// Parent: blocking accept loop, fork per connection. Unlike the anchor (SIGCHLD=SIG_IGN), children are
// reaped with waitpid on SIGCHLD, so that their CPU time shows in the parent's cutime/cstime (/proc/PID/stat),
// which is how `epollkit bench` counts a server's children; ForkingServer pays the same reaping.
// Child: read one 64-byte message, echo it, exit.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void reap(int sig) { (void)sig; int e = errno; while (waitpid(-1, NULL, WNOHANG) > 0) {} errno = e; }
int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 1; }
  struct sigaction sa = { .sa_handler = reap, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
  sigaction(SIGCHLD, &sa, NULL); signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("bind/listen"); return 1; }
  for (;;) {
    int c = accept(ls, NULL, NULL);
    if (c < 0) { if (errno == EINTR) continue; perror("accept"); continue; }
    pid_t p = fork();
    if (p == 0) {
      close(ls);
      char buf[64]; int got = 0; ssize_t r;
      while (got < 64 && (r = read(c, buf + got, 64 - got)) > 0) got += r;
      if (got > 0) { ssize_t w = write(c, buf, got); (void)w; }
      _exit(0);
    }
    if (p < 0) perror("fork");
    close(c);
  }
}
