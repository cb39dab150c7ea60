// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ks-empty - loads bench/empty.bpf.o and attaches the programs named on the
 * command line (empty_enter, empty_exit), prints "attached" and waits for
 * SIGINT/SIGTERM. The floor configurations of `make bench`.
 *
 *   ks-empty OBJ PROG...
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[8] = {};
	struct bpf_object *obj;
	struct bpf_program *p;
	int nlinks = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: ks-empty OBJ PROG...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "ks-empty: cannot open %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(p, obj)
	{
		int wanted = 0;

		for (int i = 2; i < argc; i++)
			wanted |= !strcmp(bpf_program__name(p), argv[i]);
		bpf_program__set_autoload(p, wanted);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "ks-empty: cannot load %s\n", argv[1]);
		return 1;
	}
	bpf_object__for_each_program(p, obj)
	{
		if (!bpf_program__autoload(p))
			continue;
		links[nlinks] = bpf_program__attach(p);
		if (!links[nlinks]) {
			fprintf(stderr, "ks-empty: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
		if (++nlinks == 8)
			break;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached %d\n", nlinks);
	fflush(stdout);
	while (!stop)
		pause();
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;
}
