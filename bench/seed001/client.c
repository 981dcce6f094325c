/* Seed 001's interactive calculator client, as published, with two changes: the port is argv[1]
   (default 7070) and the process ends at end of input, so that a test can drive it over a pipe. */
#include "calc.h"

static void Input(Oper *op) {
  printf("please input op1 add op2.\n");
  if (scanf("%d, %d", &op->op1, &op->op2) != 2) exit(0);
}

static void help(void) {
  printf("cmd: add sub mul div help quit\n");
}

int main(int ac, char *av[]) {
  int port = ac > 1 ? atoi(av[1]) : 7070;
  int sockcli = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addrser;
  memset(&addrser, 0, sizeof addrser);
  addrser.sin_family = AF_INET;
  addrser.sin_port = htons(port);
  addrser.sin_addr.s_addr = inet_addr(SERVER_IP);
  if (connect(sockcli, (struct sockaddr *)&addrser, sizeof addrser) == -1) { perror("connect"); return 1; }
  printf("client connect server ok.\n");
  char cmd[20];
  Oper op = {0, 0, 0};
  int result;
  while (1) {
    printf("please input cmd:>");
    if (scanf("%19s", cmd) != 1) break;
    if (strcmp(cmd, "add") == 0) { op.oper = ADD; Input(&op); }
    else if (strcmp(cmd, "sub") == 0) { op.oper = SUB; Input(&op); }
    else if (strcmp(cmd, "mul") == 0) { op.oper = MUL; Input(&op); }
    else if (strcmp(cmd, "div") == 0) {
      op.oper = DIV;
      while (1) { Input(&op); if (op.op2 == 0) { printf("please input again.\n"); continue; } break; }
    }
    else if (strcmp(cmd, "help") == 0) { help(); continue; }
    else if (strcmp(cmd, "quit") == 0) { op.oper = QUIT; }
    else { printf("your input is invalid.\n"); }
    if (send(sockcli, (char *)&op, sizeof(op), 0) == -1) perror("send");
    if (op.oper == QUIT) break;
    if (recv(sockcli, &result, sizeof(int), MSG_WAITALL) != sizeof(int)) { printf("server closed\n"); break; }
    printf("result = %d\n", result);
    fflush(stdout);
  }
  close(sockcli);
  return 0;
}
