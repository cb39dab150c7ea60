/*
 * syscall_trigger - makes an exact number of syscalls for the BPF tests.
 *   syscall_trigger [-g GETPPID] [-e ENOENT_OPENS] [-s SLEEP_MS] [-w]
 * Prints its pid, then (with -w) waits for one byte on stdin before it
 * starts, so the agent can attach first. Uses syscall(2) directly so libc
 * adds nothing. Prints "done getppid=N enoent=M sleep_ms=S" at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long getppids = 0, enoents = 0, sleep_ms = 0;
	int wait_go = 0, opt;

	while ((opt = getopt(argc, argv, "g:e:s:w")) != -1) {
		switch (opt) {
		case 'g': getppids = atol(optarg); break;
		case 'e': enoents = atol(optarg); break;
		case 's': sleep_ms = atol(optarg); break;
		case 'w': wait_go = 1; break;
		default:
			fprintf(stderr, "usage: %s [-g N] [-e N] [-s MS] [-w]\n", argv[0]);
			return 2;
		}
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (wait_go) {
		char c;

		if (read(0, &c, 1) != 1)
			return 1;
	}
	for (long i = 0; i < getppids; i++)
		syscall(SYS_getppid);
	for (long i = 0; i < enoents; i++) {
		long fd = syscall(SYS_openat, AT_FDCWD, "/nonexistent/ksight-trigger", O_RDONLY);
		if (fd >= 0)
			syscall(SYS_close, fd);
	}
	if (sleep_ms) {
		struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };

		syscall(SYS_nanosleep, &ts, NULL);
	}
	printf("done getppid=%ld enoent=%ld sleep_ms=%ld\n", getppids, enoents, sleep_ms);
	fflush(stdout);
	return 0;
}
