// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * empty.bpf.c - the floor of `make bench`: programs that do nothing, on the
 * hooks the syscalls probe uses (tp_btf raw_syscalls sys_enter / sys_exit),
 * so what remains is the cost of running any BPF program there.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(empty_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(empty_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
