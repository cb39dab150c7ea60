/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * core_fixes.bpf.h - every kernel-version difference the BPF code absorbs,
 * in one place: ___flavor structs and bpf_core_*_exists() checks, each with
 * a comment naming the kernel change. Never LINUX_VERSION_CODE.
 */
#ifndef KSIGHT_CORE_FIXES_BPF_H
#define KSIGHT_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

#endif /* KSIGHT_CORE_FIXES_BPF_H */
