// ABI table: bpf/include/ksight_abi.h, in every probe's object.
#include "abi/abi_table.h"

extern "C" {
#include "ksight_abi.h"
}

namespace ksight::test {
namespace {

#define M(m) KS_ABI_MEMBER(ks_rec_hdr, m)
const AbiStruct kHdr = KS_ABI_STRUCT(ks_rec_hdr, M(type), M(size), M(cpu), M(ts_ns));
#undef M
#define M(m) KS_ABI_MEMBER(ks_task, m)
const AbiStruct kTask = KS_ABI_STRUCT(ks_task, M(pid), M(tid), M(cgroup_id), M(comm));
#undef M
const AbiStruct kCommKey = KS_ABI_STRUCT(ks_comm_key, KS_ABI_MEMBER(ks_comm_key, comm));

const AbiRegistration kRegistered({kEveryObject, {kHdr, kTask, kCommKey}});

}  // namespace
}  // namespace ksight::test
