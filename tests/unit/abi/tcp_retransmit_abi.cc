// ABI table: bpf/probes/tcp_retransmit/tcp_retransmit.h, in build/bpf/tcp_retransmit.bpf.o.
#include "abi/abi_table.h"

extern "C" {
#include "tcp_retransmit/tcp_retransmit.h"
}

namespace ksight::test {
namespace {

#define M(m) KS_ABI_MEMBER(ks_tcp_owner, m)
const AbiStruct kOwner = KS_ABI_STRUCT(ks_tcp_owner, M(task), M(how), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_tcp_listen_key, m)
const AbiStruct kListenKey = KS_ABI_STRUCT(ks_tcp_listen_key, M(netns_ino), M(port), M(pad));
#undef M
#define M(m) KS_ABI_MEMBER(ks_tcp_listener, m)
const AbiStruct kListener = KS_ABI_STRUCT(ks_tcp_listener, M(owner), M(sk));
#undef M
#define M(m) KS_ABI_MEMBER(ks_tcp_retransmit_rec, m)
const AbiStruct kRec = KS_ABI_STRUCT(
    ks_tcp_retransmit_rec, M(hdr), M(owner), M(saddr), M(daddr), M(family), M(sport), M(dport),
    M(kind), M(owner_source), M(state), M(owner_how), M(segs), M(netns_ino), M(snd_cwnd),
    M(srtt_us), M(rto_ms), M(retrans_out), M(lost_out), M(total_retrans), M(mss), M(hz));
#undef M

const AbiRegistration kRegistered({"tcp_retransmit", {kOwner, kListenKey, kListener, kRec}});

}  // namespace
}  // namespace ksight::test
