// libFuzzer target for the GPU log parsers: any input must parse without a crash, an
// out-of-bounds read or undefined behaviour (run under ASan/UBSan), and any record it yields must
// be sane. The same input also drives the job tracker through a small command decoder, checking
// its accounting identity and memory bound.
//
// Built by tests/fuzz/CMakeLists.txt (clang++, -fsanitize=fuzzer,address,undefined) and run
// for a bounded number of inputs by ctest -L fuzz; longer runs by hand:
//   build/fuzz/gpu_log_parser_fuzz -max_total_time=600 -max_len=4096
//   build/fuzz/work/gpu_log_parser_fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "probes/gpu/job_tracker.h"
#include "probes/gpu/log_parser.h"
#include "probes/gpu/xid_codes.h"

namespace {

using ksight::gpu::ParseGpuLogLine;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsPciBusId(std::string_view s, bool function_allowed) {
  // dddd[dddd]:bb:dd[.f], lowercase hex
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon < 4 || colon > 8) return false;
  for (size_t i = 0; i < colon; ++i) {
    if (!hex(s[i])) return false;
  }
  std::string_view rest = s.substr(colon);
  if (rest.size() != 6 && rest.size() != 8) return false;
  if (rest[0] != ':' || !hex(rest[1]) || !hex(rest[2]) || rest[3] != ':' || !hex(rest[4]) ||
      !hex(rest[5])) {
    return false;
  }
  if (rest.size() == 8) return function_allowed && rest[6] == '.' && hex(rest[7]);
  return true;
}

void CheckEvent(const ksight::gpu::GpuLogEvent& ev, size_t input_size) {
  if (const auto* x = std::get_if<ksight::gpu::XidEvent>(&ev)) {
    Check(IsPciBusId(x->pci_bus_id, /*function_allowed=*/false));
    Check(x->code >= 1 && x->code <= 9999);
    Check(!x->pid || *x->pid != 0);
    Check(!x->process_name || !x->process_name->empty());
    Check(!x->gpu_instance || *x->gpu_instance >= 0);
    Check(!x->compute_instance || x->gpu_instance);  // GPU-CI only after GPU-I
    Check(!x->caused_by || (*x->caused_by >= 0 && *x->caused_by <= 9999));
    Check(x->message.size() <= input_size);
    // The table answers for any code.
    auto info = ksight::gpu::LookupXid(x->code);
    Check(!info.name.empty() && !info.action.empty());
    (void)ksight::gpu::XidSeverity(x->code, x->message);
  } else if (const auto* s = std::get_if<ksight::gpu::SxidEvent>(&ev)) {
    Check(s->device.starts_with("nvidia-") && s->device.size() > 7);
    Check(IsPciBusId(s->pci_bus_id, /*function_allowed=*/true));
    Check(s->code >= 10000 && s->code <= 99999);
    Check(!s->message.empty() && s->message.size() <= input_size);
    Check(!s->link || s->fatal.has_value());
    Check(!s->detail || !s->fatal.has_value());
    (void)ksight::gpu::LookupSxid(s->code, s->fatal);
  } else {
    const auto& r = std::get<ksight::gpu::ResetEvent>(ev);
    Check(r.driver == "amdgpu" || r.driver == "i915" || r.driver == "xe" || r.driver == "nvidia");
    Check(r.device.empty() || IsPciBusId(r.device, /*function_allowed=*/true));
    Check(r.driver == "amdgpu" || r.driver == "i915" || !r.device.empty());
    Check(ksight::gpu::ResetKindName(r.kind) != "unknown");
    Check(r.signaled_seq.has_value() == r.emitted_seq.has_value());
    Check(!r.pid || *r.pid != 0);
    Check(!r.process_name || !r.process_name->empty());
    Check(r.message.size() <= input_size);
  }
}

// Drives a JobTracker from the bytes: 8 bytes per command.
void FuzzTracker(const uint8_t* data, size_t size) {
  if (size < 1) return;
  ksight::gpu::JobTracker t(1 + data[0] % 16);
  static constexpr std::string_view kRings[] = {"gfx", "sdma0", "comp_1.0.0", ""};
  uint64_t ts = 0;
  for (size_t i = 1; i + 8 <= size; i += 8) {
    const uint8_t* c = data + i;
    ts += c[1];
    uint64_t at = ts >= c[2] ? ts - c[2] : 0;
    uint64_t ctx = c[3] % 4;
    uint64_t seqno = c[4] % 16;
    switch (c[0] % 4) {
      case 0:
        t.on_queue(at, kRings[c[5] % 4], c[6] % 2 ? "0000:03:00.0" : "0000:83:00.0", ctx, seqno,
                   c[7] % 3, c[7] % 2 ? "app" : "");
        break;
      case 1:
        t.on_run(at, ctx, seqno);
        break;
      case 2:
        if (auto r = t.on_done(at, ctx, seqno)) {
          Check(r->fence_ctx == ctx && r->seqno == seqno);
          Check(r->queue_wait_ns.has_value() == r->run_ns.has_value());
        }
        break;
      default:
        t.expire(ts, c[5] * 8u);
        break;
    }
    const auto& s = t.stats();
    Check(s.tracked == s.emitted + s.done_without_queue + s.evicted + s.expired + s.live);
    Check(t.size() == s.live && t.size() <= t.max_entries());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto ev = ParseGpuLogLine(line);
  if (ev) CheckEvent(*ev, size);
  (void)ksight::gpu::MayBeGpuLogLine(line);
  (void)ksight::gpu::NormalizePciBusId(line, size % 2 == 0);
  (void)ksight::gpu::XidRecoveryAction(line);
  // The prefilter must never hide a line the parser accepts.
  if (ev) Check(ksight::gpu::MayBeGpuLogLine(line));
  FuzzTracker(data, size);
  return 0;
}
