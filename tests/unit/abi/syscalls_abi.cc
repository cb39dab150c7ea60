// ABI table: bpf/probes/syscalls/syscalls.h, in build/bpf/syscalls.bpf.o.
#include "abi/abi_table.h"

extern "C" {
#include "syscalls/syscalls.h"
}

namespace ksight::test {
namespace {

#define M(m) KS_ABI_MEMBER(ks_sys_key, m)
const AbiStruct kKey = KS_ABI_STRUCT(ks_sys_key, M(tgid), M(nr));
#undef M
#define M(m) KS_ABI_MEMBER(ks_sys_stats, m)
const AbiStruct kStats = KS_ABI_STRUCT(ks_sys_stats, M(count), M(errors), M(lat_sum_ns),
                                       M(lat_max_ns), M(hist), M(comm), M(cgroup_id));
#undef M
#define M(m) KS_ABI_MEMBER(ks_sys_errno_key, m)
const AbiStruct kErrnoKey = KS_ABI_STRUCT(ks_sys_errno_key, M(tgid), M(nr), M(err), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_syscall_rec, m)
const AbiStruct kRec = KS_ABI_STRUCT(ks_syscall_rec, M(hdr), M(task), M(args), M(ret),
                                     M(latency_ns), M(nr), M(reason));
#undef M

const AbiRegistration kRegistered({"syscalls", {kKey, kStats, kErrnoKey, kRec}});

}  // namespace
}  // namespace ksight::test
