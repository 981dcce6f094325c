/* Seed 001's fork-per-connection calculator server, as published, with the fixes a reference needs:
   the port is argv[1] (default 7070), a closed connection ends the child (the seed spins forever),
   division by zero answers 0 (the seed raises SIGFPE), and children are reaped (SIGCHLD ignored). */
#include <signal.h>
#include "calc.h"

static void handler(int sockconn) {
  Oper op;
  int result;
  while (1) {
    int res = recv(sockconn, (char *)&op, sizeof(op), MSG_WAITALL);
    if (res != (int)sizeof(op)) break;
    if (op.oper == ADD) result = (int)((unsigned)op.op1 + (unsigned)op.op2);
    else if (op.oper == SUB) result = (int)((unsigned)op.op1 - (unsigned)op.op2);
    else if (op.oper == MUL) result = (int)((unsigned)op.op1 * (unsigned)op.op2);
    else if (op.oper == DIV) result = op.op2 == 0 ? 0 : (op.op2 == -1 ? (int)(0u - (unsigned)op.op1) : op.op1 / op.op2);
    else if (op.oper == QUIT) break;
    else result = 0;
    send(sockconn, (char *)&result, sizeof(int), 0);
  }
}

int main(int ac, char *av[]) {
  int port = ac > 1 ? atoi(av[1]) : 7070;
  signal(SIGCHLD, SIG_IGN);
  int sockser = socket(AF_INET, SOCK_STREAM, 0), yes = 1;
  setsockopt(sockser, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  struct sockaddr_in addrser, addrcli;
  memset(&addrser, 0, sizeof addrser);
  addrser.sin_family = AF_INET;
  addrser.sin_port = htons(port);
  addrser.sin_addr.s_addr = inet_addr(SERVER_IP);
  socklen_t addrlen = sizeof(struct sockaddr);
  if (bind(sockser, (struct sockaddr *)&addrser, addrlen) == -1) { perror("bind"); return 1; }
  listen(sockser, QUEUE_SIZE);
  printf("listening %d\n", port);
  fflush(stdout);
  while (1) {
    int sockconn = accept(sockser, (struct sockaddr *)&addrcli, &addrlen);
    if (sockconn == -1) continue;
    pid_t pid = fork();
    if (pid == 0) { close(sockser); handler(sockconn); _exit(0); }
    close(sockconn);
  }
}
