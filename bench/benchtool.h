/*
 * benchtool.h: what benchtool's files share (see benchtool.c for the
 * commands): the stop flag, clocks and quantiles, loopback sockets, and
 * each command's entry point.
 */
#ifndef COTAI_BENCHTOOL_H
#define COTAI_BENCHTOOL_H

#include <signal.h>
#include <stddef.h>
#include <netinet/in.h>

#define MSG_MAX 65536

/* Set by SIGTERM (and SIGINT where a command asks): end the loop. */
extern volatile sig_atomic_t stop_flag;

void on_signal(int sig);
/* Seconds on the monotonic clock. */
double now_s(void);
/* qsort's comparison of doubles. */
int cmp_double(const void *a, const void *b);
/* The q-quantile (0..1) of n sorted values, nearest rank. */
double quantile(const double *v, size_t n, double q);
/* The open-files limit up to its hard limit. */
void raise_nofile(void);
/* 127.0.0.1:port into *sin. */
void loopback(struct sockaddr_in *sin, int port);
/* TCP_NODELAY on fd. */
void nodelay(int fd);
/* A non-blocking socket connecting to 127.0.0.1:port, or -1. */
int connect_nb(int port);
/* Write text to path through path.tmp and rename; 0 or -1. */
int write_file_atomic(const char *path, const char *text);
/* Read (rd) or write exactly len bytes on a blocking fd; 0 or -1. */
int full_io(int fd, char *buf, size_t len, int rd);
/* A blocking, TCP_NODELAY connection to 127.0.0.1:port, or -1. */
int connect_blocking(int port);

/* The commands (bt_echo.c, bt_rtt.c, bt_conn.c): the exit status. */
int cmd_echo(const char *portfile);
int cmd_rtt(int port, long count, size_t size);
int cmd_hol(int port, long count, double mbs);
int cmd_connrate(int port, double secs, int conc, size_t size);
int cmd_hold(int port, int total, const char *readyfile);
int cmd_freeport(void);

#endif
