// loader.h - libbpf helpers shared by every probe: RAII ownership of
// skeletons, ring buffers and links, common .rodata settings, filter maps, the
// per-CPU loss counters, and errors as values with libbpf's context.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "core/probe.h"
#include "core/status.h"

extern "C" {
#include "ksight_abi.h"
}

namespace ksight {

// unique_ptr for a bpftool skeleton: SkelPtr<ks_syscalls, ks_syscalls__destroy>.
template <typename Skel, void (*Destroy)(Skel*)>
struct SkelDeleter {
  void operator()(Skel* s) const { Destroy(s); }
};
template <typename Skel, void (*Destroy)(Skel*)>
using SkelPtr = std::unique_ptr<Skel, SkelDeleter<Skel, Destroy>>;

struct RingBufferDeleter {
  void operator()(ring_buffer* rb) const { ring_buffer__free(rb); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

// An attached program: destroying the link detaches it.
struct LinkDeleter {
  void operator()(bpf_link* l) const { bpf_link__destroy(l); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

// A libbpf call's negative return (libbpf 1.x: -errno) as a Status.
Status LibbpfError(std::string_view what, int ret);

// Write the settings every probe shares (self tgid, filter switches, ring
// wakeup threshold) into a skeleton's .rodata, before load.
template <typename Rodata>
void SetCommonRodata(Rodata* ro, const ProbeContext& ctx) {
  ro->ks_self_tgid = ctx.self_tgid;
  ro->ks_filter_pids_on = !ctx.filters.pids.empty();
  ro->ks_filter_comms_on = !ctx.filters.comms.empty();
  ro->ks_filter_cgroups_on = !ctx.filters.cgroup_ids.empty() || ctx.filters.workload;
  // Wake the poller early once a ring is half full (see ks_ring_submit()).
  ro->ks_wakeup_bytes = ctx.cfg.ring_bytes / 2;
}

// Size a ring map before load.
Status SetRingSize(bpf_map* ring, uint32_t bytes);

// Before load: load this program or not / create this map or not (libbpf
// refuses once the object is loaded: that is a bug worth an error).
Status SetAutoload(bpf_program* prog, bool on);
Status SetAutocreate(bpf_map* map, bool on);

// Fill the ks_filter_* maps of a loaded object.
Status FillFilterMaps(bpf_object* obj, const Filters& f);

// Sum the per-CPU ks_counters map of a loaded object.
BpfTotals ReadCounters(const bpf_map* counters);

// libbpf_num_possible_cpus(), read once; 1 when libbpf cannot tell (a per-CPU
// map value is this many slots).
int PossibleCpus();

// Route libbpf's messages into spdlog (debug and info at debug level).
void InstallLibbpfLogger();

}  // namespace ksight
