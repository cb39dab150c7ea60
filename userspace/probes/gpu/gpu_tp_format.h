// gpu_tp_format.h - classic tracepoint record layouts from tracefs "format" files (pure logic).
//
// The gpu probe reads the NVIDIA Xid/SXid tracepoints (an out-of-tree module without BTF) and,
// where tp_btf cannot load (5.10: no module BTF), the gpu_scheduler tracepoints as classic
// tracepoints. Their record layouts differ by driver and kernel version, so the agent reads the
// event's format file at start and hands the field offsets to the BPF programs
// (ks_gpu_xid_layout / ks_gpu_sched_layout). A format that lacks a field the program needs
// disables that source with the reason, instead of reading the wrong bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

extern "C" {
#include "gpu/gpu.h"
}

namespace ksight::gpu {

struct TpField {
  std::string type;  // "u32", "const char *", "__data_loc char[]", "struct dma_fence *"
  std::string name;  // "error_code", "name"
  uint32_t offset = 0;
  uint32_t size = 0;
  bool is_signed = false;
  bool data_loc() const { return type.starts_with("__data_loc"); }
  bool pointer() const { return !type.empty() && type.back() == '*'; }
};

// The fields of a format file, common_* fields included; empty when the text has none.
std::vector<TpField> ParseTpFormat(std::string_view text);

const TpField* FindField(const std::vector<TpField>& fields, std::string_view name);

// nvidia:nvidia_dev_xid / nvswitch:nvswitch_dev_sxid: __data_loc dev, u32 error_code,
// __data_loc msg.
Result<ks_gpu_xid_layout> XidLayoutFromFormat(const std::vector<TpField>& fields);

// One gpu_scheduler event, by the job phase its program reports.
Result<ks_gpu_sched_layout> SchedLayoutFromFormat(const std::vector<TpField>& fields,
                                                  ks_gpu_job_phase phase);

// A layout with every field absent (what the BPF object has before the agent sets it).
ks_gpu_sched_layout EmptySchedLayout();

}  // namespace ksight::gpu
