// ABI table: bpf/probes/process/process.h, in build/bpf/process.bpf.o.
#include "abi/abi_table.h"

extern "C" {
#include "process/process.h"
}

namespace ksight::test {
namespace {

#define M(m) KS_ABI_MEMBER(ks_proc_exec_rec, m)
const AbiStruct kExec =
    KS_ABI_STRUCT(ks_proc_exec_rec, M(hdr), M(task), M(ppid), M(uid), M(start_ns), M(old_pid),
                  M(args_len), M(args_truncated), M(filename), M(args));
#undef M
#define M(m) KS_ABI_MEMBER(ks_proc_exit_rec, m)
const AbiStruct kExit = KS_ABI_STRUCT(ks_proc_exit_rec, M(hdr), M(task), M(ppid), M(exit_code),
                                      M(start_ns), M(cpu_ns), M(oom_victim), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_proc_oom_rec, m)
const AbiStruct kOom =
    KS_ABI_STRUCT(ks_proc_oom_rec, M(hdr), M(trigger), M(victim_pid), M(flags), M(victim_comm),
                  M(total_vm_kb), M(anon_rss_kb), M(file_rss_kb), M(shmem_rss_kb), M(pgtables_kb),
                  M(uid), M(oom_score_adj), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_proc_cgroup_rec, m)
const AbiStruct kCgroup =
    KS_ABI_STRUCT(ks_proc_cgroup_rec, M(hdr), M(id), M(level), M(path_len), M(path));
#undef M

#define M(m) KS_ABI_MEMBER(ks_proc_fork_rec, m)
const AbiStruct kFork = KS_ABI_STRUCT(ks_proc_fork_rec, M(hdr), M(parent_tgid), M(child_pid));
#undef M

const AbiRegistration kRegistered({"process", {kExec, kExit, kOom, kCgroup, kFork}});

}  // namespace
}  // namespace ksight::test
