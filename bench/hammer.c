// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ks-hammer - the syscall load of `make bench`.
 *
 *   ks-hammer [--cpu N] [--wait] --duration SEC [--workload getppid,mix] [--rate EV_PER_SEC]
 *
 * Pins itself to one CPU, then runs each workload for --duration seconds
 * and prints one JSON object with the ns per syscall of each:
 *   getppid  getppid() in a tight loop
 *   mix      getppid, 1-byte read of /dev/zero, 1-byte write to /dev/null,
 *            clock_gettime through syscall(2) (not the vDSO), openat + close:
 *            6 syscalls per round
 * With --rate, runs getppid paced to that many calls per second (busy-waiting
 * on the vDSO clock, so the pacing itself makes no syscall) and prints the
 * number of calls made: the throughput test compares it with the records the
 * tracer delivered.
 * With --wait, prints "ready PID" and waits for a line on stdin before it
 * starts, so the caller can point a tracer at the pid first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: immune to sharing the CPU with other tasks. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* a syscall: read once per run */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct result {
	uint64_t calls;
	double wall_ns; /* wall time per call */
	double cpu_ns;	/* CPU time per call: what the tables use */
};

static void die(const char *what)
{
	fprintf(stderr, "ks-hammer: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* getppid in blocks of 1000 until the time is up. */
static struct result run_getppid(double seconds)
{
	const uint64_t c0 = cpu_ns(), t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	uint64_t n = 0, t;

	do {
		for (int i = 0; i < 1000; i++)
			syscall(SYS_getppid);
		n += 1000;
		t = now_ns();
	} while (t < end);
	return (struct result){n, (double)(t - t0) / (double)n,
			       (double)(cpu_ns() - c0) / (double)n};
}

static struct result run_mix(double seconds)
{
	const uint64_t c0 = cpu_ns(), t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint64_t n = 0, t;
	struct timespec ts;
	char c = 0;

	if (zero < 0 || null < 0)
		die("opening /dev/zero and /dev/null");
	do {
		for (int i = 0; i < 100; i++) {
			int fd;

			syscall(SYS_getppid);
			if (read(zero, &c, 1) != 1)
				die("read /dev/zero");
			if (write(null, &c, 1) != 1)
				die("write /dev/null");
			syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
			fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				die("openat /dev/null");
			close(fd);
		}
		n += 100 * 6;
		t = now_ns();
	} while (t < end);
	{
		const uint64_t c1 = cpu_ns();

		close(zero);
		close(null);
		return (struct result){n, (double)(t - t0) / (double)n,
				       (double)(c1 - c0) / (double)n};
	}
}

/* getppid paced to @rate calls per second for @seconds; returns calls made. */
static uint64_t run_paced(double seconds, double rate, double *achieved)
{
	const uint64_t t0 = now_ns(), dur = (uint64_t)(seconds * 1e9);
	const double per_ns = rate / 1e9;
	uint64_t n = 0, t = t0;

	while (t - t0 < dur) {
		/* Calls owed by now, made in one burst of at most 64. */
		uint64_t due = (uint64_t)((double)(t - t0) * per_ns) + 1;
		uint64_t burst = due > n ? due - n : 0;

		if (burst > 64)
			burst = 64;
		for (uint64_t i = 0; i < burst; i++)
			syscall(SYS_getppid);
		n += burst;
		t = now_ns();
	}
	*achieved = (double)n / ((double)(t - t0) / 1e9);
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ks-hammer [--cpu N] [--wait] --duration SEC [--workload getppid,mix] "
		"[--rate EV_PER_SEC]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double seconds = 1.0, rate = 0;
	const char *workload = "getppid,mix";
	int cpu = -1, wait = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--workload") && i + 1 < argc)
			workload = argv[++i];
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			rate = atof(argv[++i]);
		else if (!strcmp(argv[i], "--wait"))
			wait = 1;
		else
			usage();
	}
	if (seconds <= 0)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	if (wait) {
		char line[16];

		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}

	if (rate > 0) {
		double achieved;
		uint64_t n = run_paced(seconds, rate, &achieved);

		printf("{\"workload\":\"paced\",\"target_rate\":%.0f,\"calls\":%llu,\"rate\":%.0f}"
		       "\n",
		       rate, (unsigned long long)n, achieved);
		return 0;
	}
	printf("{");
	int first = 1;
	char *list = strdup(workload);
	for (char *w = strtok(list, ","); w; w = strtok(NULL, ",")) {
		struct result r;

		if (!strcmp(w, "getppid"))
			r = run_getppid(seconds);
		else if (!strcmp(w, "mix"))
			r = run_mix(seconds);
		else
			usage();
		printf("%s\"%s\":{\"cpu_ns_per_call\":%.2f,\"wall_ns_per_call\":%.2f,\"calls\":%"
		       "llu}",
		       first ? "" : ",", w, r.cpu_ns, r.wall_ns, (unsigned long long)r.calls);
		first = 0;
	}
	printf("}\n");
	free(list);
	return 0;
}
