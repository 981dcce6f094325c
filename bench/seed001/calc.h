/* The wire contract of seed 001: struct Oper, 12 bytes, sent as-is (little-endian on x86-64). */
#ifndef CALC_H
#define CALC_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum { ADD, SUB, MUL, DIV, QUIT } OperType;
typedef struct { int oper; int op1; int op2; } Oper;
#define SERVER_IP "127.0.0.1"
#define QUEUE_SIZE 5
#endif
