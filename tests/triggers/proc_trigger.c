/*
 * proc_trigger - process lifecycle events for the process probe's tests.
 *   proc_trigger [-w] [-c CGROUP_DIR] [-n CHILDREN] [-m MOD] [-s] [-t] [-o MIB] [-F FORKS]
 * Moves itself into CGROUP_DIR (writes 0 to its cgroup.procs) when given, prints its pid, then
 * (with -w) waits for one byte on stdin so the agent can attach first. Then, in order:
 *   -n N  forks N children; child i execs this program again as "proc_trigger -x i" and exits
 *         with code i % MOD (-m, default 256); each is reaped before the next starts;
 *   -s    one more child that is killed by SIGTERM (raised by itself after its exec);
 *   -t    one more child whose main thread leaves first (pthread_exit) and whose other thread
 *         then exits with code 7: one exit record, for the whole process;
 *   -o M  one more child that execs "proc_trigger -a M": touches M MiB until the OOM killer
 *         (the cgroup's memory limit) kills it;
 *   -F N  N more children that exit with code 40 + i without exec'ing anything.
 * Prints "done children=N pids=<pid,...>" (every child's pid, in order) at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIDS_LEN 8192 /* the "pids=" list */

static char self[4096];

static void *late_exit(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	exit(7);
}

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();

	if (p == 0) {
		execv(self, argv);
		_exit(127);
	}
	return p;
}

/* Wait for child p and append its pid to the "pids=" list; non-zero on failure. */
static int reap(pid_t p, char *pids, size_t *used, long *total)
{
	if (p < 0)
		return 1;
	waitpid(p, NULL, 0);
	*used += snprintf(pids + *used, PIDS_LEN - *used, "%s%d", *total ? "," : "", p);
	if (*used >= PIDS_LEN)
		return 1;
	(*total)++;
	return 0;
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL;
	long children = 0, oom_mib = 0, mod = 256, forks = 0;
	int wait_go = 0, sig_child = 0, thread_child = 0, opt;
	char pids[PIDS_LEN] = "";
	size_t used = 0;

	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	while ((opt = getopt(argc, argv, "wc:n:m:sto:F:x:a:ST")) != -1) {
		switch (opt) {
		case 'w': wait_go = 1; break;
		case 'c': cgroup = optarg; break;
		case 'n': children = atol(optarg); break;
		case 'm': mod = atol(optarg) > 0 ? atol(optarg) : 1; break;
		case 's': sig_child = 1; break;
		case 't': thread_child = 1; break;
		case 'o': oom_mib = atol(optarg); break;
		case 'F': forks = atol(optarg); break;
		case 'x': return atoi(optarg) % 256; /* a child: exit with its code */
		case 'S': raise(SIGTERM); return 1;
		case 'T': {
			pthread_t th;

			if (pthread_create(&th, NULL, late_exit, NULL) != 0)
				return 1;
			pthread_exit(NULL);
		}
		case 'a': {
			size_t len = (size_t)atol(optarg) << 20;
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return 1;
			for (size_t i = 0; i < len; i += 4096)
				p[i] = 1;
			return 0; /* not killed: the limit was not enforced */
		}
		default:
			fprintf(stderr, "usage: %s [-w] [-c CGROUP] [-n N] [-m MOD] [-s] [-t] [-o MIB] [-F N]\n", argv[0]);
			return 2;
		}
	}
	if (cgroup) {
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	if (wait_go) {
		char c;

		if (read(0, &c, 1) != 1)
			return 1;
	}
	long total = 0;
	for (long i = 0; i <= children + 3; i++) {
		char code[32];
		char *args[4] = { self, NULL, NULL, NULL };

		if (i < children) {
			snprintf(code, sizeof(code), "%ld", i % mod);
			args[1] = "-x";
			args[2] = code;
		} else if (i == children && sig_child) {
			args[1] = "-S";
		} else if (i == children + 1 && thread_child) {
			args[1] = "-T";
		} else if (i == children + 2 && oom_mib) {
			snprintf(code, sizeof(code), "%ld", oom_mib);
			args[1] = "-a";
			args[2] = code;
		} else {
			continue;
		}
		if (reap(spawn(args), pids, &used, &total))
			return 1;
	}
	for (long i = 0; i < forks; i++) {
		pid_t p = fork();

		if (p == 0)
			_exit((int)(40 + i));
		if (reap(p, pids, &used, &total))
			return 1;
	}
	printf("done children=%ld pids=%s\n", total, pids);
	fflush(stdout);
	return 0;
}
