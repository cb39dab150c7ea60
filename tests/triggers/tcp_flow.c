// tcp_flow - one TCP connection with a fixed exchange, for the tcp_retransmit
// tests. Run one server and one client (in a test network namespace):
//
//   tcp_flow server -a ADDR -p PORT [-w] [-W] [-R N] [-n N] [-r N]
//   tcp_flow client -a ADDR -p PORT [-w] [-W] [-R N] [-n N] [-r N]
//
// With -w it prints "ready pid=P" and waits for a byte on stdin before it
// listens (server) or connects (client), so a test can start the agent with
// the pid first. With -W it waits for a byte on stdin once connected, before
// the exchange (a connection that predates the agent).
// Each side, once connected: reads exactly -R bytes, sends -n bytes, reads
// exactly -r bytes, then shuts down its sending side and reads until EOF.
// It prints "listening pid=P" (server, once bound), "connected pid=P
// local=PORT" and "done sent=S received=R", and exits 0 when the exchange
// completed, 1 otherwise.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned long long g_received;

static int read_exactly(int fd, unsigned long long n, char *buf, size_t cap)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n < cap ? n : cap);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n -= (unsigned long long)r;
		g_received += (unsigned long long)r;
	}
	return 0;
}

static int send_all(int fd, unsigned long long n, const char *buf, size_t cap)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n < cap ? n : cap);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		n -= (unsigned long long)w;
	}
	return 0;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

static int local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int main(int argc, char **argv)
{
	unsigned long long pre_recv = 0, send_n = 0, post_recv = 0;
	const char *addr = "127.0.0.1";
	struct sockaddr_storage ss;
	static char buf[65536];
	socklen_t len;
	int port = 0, fam, fd, c, one = 1;
	int server, wait_go = 0, wait_connected = 0;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: %s server|client -a ADDR -p PORT [-w] [-W] [-R N] [-n N] [-r N]\n",
			argv[0]);
		return 2;
	}
	server = strcmp(argv[1], "server") == 0;
	optind = 2;
	while ((c = getopt(argc, argv, "a:p:wWR:n:r:")) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'w': wait_go = 1; break;
		case 'W': wait_connected = 1; break;
		case 'R': pre_recv = strtoull(optarg, NULL, 10); break;
		case 'n': send_n = strtoull(optarg, NULL, 10); break;
		case 'r': post_recv = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(buf, 'k', sizeof(buf));
	fam = parse_addr(addr, port, &ss, &len);
	if (fam < 0) {
		fprintf(stderr, "tcp_flow: bad address %s\n", addr);
		return 2;
	}
	if (wait_go) {
		char go;

		printf("ready pid=%d\n", (int)getpid());
		if (read(0, &go, 1) != 1)
			return 1;
	}
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (server) {
		int lfd = fd;

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len) != 0 || listen(lfd, 8) != 0) {
			perror("bind/listen");
			return 1;
		}
		printf("listening pid=%d\n", (int)getpid());
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			perror("accept");
			return 1;
		}
		close(lfd);
	} else if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		perror("connect");
		return 1;
	}
	printf("connected pid=%d local=%d\n", (int)getpid(), local_port(fd));
	if (wait_connected) {
		char go;

		if (read(0, &go, 1) != 1)
			return 1;
	}

	if (read_exactly(fd, pre_recv, buf, sizeof(buf)) || send_all(fd, send_n, buf, sizeof(buf)) ||
	    read_exactly(fd, post_recv, buf, sizeof(buf))) {
		perror("exchange");
		return 1;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		g_received += (unsigned long long)r;
	}
	close(fd);
	printf("done sent=%llu received=%llu\n", send_n, g_received);
	return 0;
}
