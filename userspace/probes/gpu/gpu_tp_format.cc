// gpu_tp_format.cc - see gpu_tp_format.h.
#include "probes/gpu/gpu_tp_format.h"

#include <charconv>

#include <fmt/format.h>

namespace ksight::gpu {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The number after "key:" in a line such as "offset:8;", or nullopt.
std::optional<uint32_t> Attr(std::string_view line, std::string_view key) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view v = line.substr(at + key.size());
  uint32_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p == v.data()) return std::nullopt;
  return out;
}

constexpr uint16_t kNone = KS_GPU_OFF_NONE;

// Offset of a field with the given size, if the format has one that fits a u16.
std::optional<uint16_t> Off(const std::vector<TpField>& f, std::string_view name, uint32_t size) {
  const TpField* t = FindField(f, name);
  if (!t || t->size != size || t->offset >= kNone) return std::nullopt;
  return static_cast<uint16_t>(t->offset);
}

std::optional<uint16_t> DataLocOff(const std::vector<TpField>& f, std::string_view name) {
  const TpField* t = FindField(f, name);
  if (!t || !t->data_loc() || t->size != 4 || t->offset >= kNone) return std::nullopt;
  return static_cast<uint16_t>(t->offset);
}

std::optional<uint16_t> PtrOff(const std::vector<TpField>& f, std::string_view name) {
  const TpField* t = FindField(f, name);
  if (!t || !t->pointer() || t->size != 8 || t->offset >= kNone) return std::nullopt;
  return static_cast<uint16_t>(t->offset);
}

}  // namespace

std::vector<TpField> ParseTpFormat(std::string_view text) {
  std::vector<TpField> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = Trim(line);
    if (!line.starts_with("field:")) continue;
    const size_t semi = line.find(';');
    if (semi == std::string_view::npos) continue;
    std::string_view decl = Trim(line.substr(6, semi - 6));
    const auto offset = Attr(line, "offset:");
    const auto size = Attr(line, "size:");
    const auto sign = Attr(line, "signed:");
    if (!offset || !size || decl.empty()) continue;
    // The name is the last token; an array's "[16]" belongs to the type.
    std::string_view name = decl;
    std::string array;
    if (name.back() == ']') {
      const size_t lb = name.rfind('[');
      if (lb == std::string_view::npos) continue;
      array = std::string(name.substr(lb));
      name = name.substr(0, lb);
    }
    const size_t sp = name.find_last_of(" \t*");
    if (sp == std::string_view::npos) continue;
    TpField f;
    f.type = std::string(Trim(decl.substr(0, sp + 1))) + array;
    f.name = std::string(name.substr(sp + 1));
    f.offset = *offset;
    f.size = *size;
    f.is_signed = sign && *sign != 0;
    if (f.name.empty()) continue;
    out.push_back(std::move(f));
  }
  return out;
}

const TpField* FindField(const std::vector<TpField>& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<ks_gpu_xid_layout> XidLayoutFromFormat(const std::vector<TpField>& fields) {
  ks_gpu_xid_layout l{kNone, kNone, kNone, 0};
  const auto dev = DataLocOff(fields, "dev");
  const auto code = Off(fields, "error_code", 4);
  const auto msg = DataLocOff(fields, "msg");
  if (!dev || !code || !msg) {
    return Status::Error(fmt::format(
        "unexpected record layout (want __data_loc dev, u32 error_code, __data_loc msg; {})",
        !dev    ? "no __data_loc dev"
        : !code ? "no 4-byte error_code"
                : "no __data_loc msg"));
  }
  l.dev = *dev;
  l.error_code = *code;
  l.msg = *msg;
  return l;
}

ks_gpu_sched_layout EmptySchedLayout() {
  ks_gpu_sched_layout l{};
  l.fence_ptr = l.fence_ctx = l.fence_seqno = l.name = l.dev = kNone;
  l.job_count = l.hw_job_count = l.dep_ctx = l.dep_seqno = l.client_id = kNone;
  l.name_kind = KS_GPU_STR_NONE;
  return l;
}

Result<ks_gpu_sched_layout> SchedLayoutFromFormat(const std::vector<TpField>& fields,
                                                  ks_gpu_job_phase phase) {
  ks_gpu_sched_layout l = EmptySchedLayout();
  // The job's finished fence: a pointer up to 6.16, (context, seqno) values from 6.17.
  const auto ctx = Off(fields, "fence_context", 8);
  const auto seq = Off(fields, "fence_seqno", 8);
  const auto ptr = PtrOff(fields, "fence");
  if (phase == KS_GPU_JOB_DEP) {
    // 6.17's add_dep names the job (fence_context/seqno) and the dependency (ctx/seqno);
    // the older wait_dep names only the dependency and the job's id: it cannot be paired.
    const auto dctx = Off(fields, "ctx", 8);
    const auto dseq = Off(fields, "seqno", 8);
    if (!ctx || !seq || !dctx || !dseq)
      return Status::Error("the dependency record does not name the job's fence");
    l.fence_ctx = *ctx;
    l.fence_seqno = *seq;
    l.dep_ctx = *dctx;
    l.dep_seqno = *dseq;
    return l;
  }
  if (ctx && seq) {
    l.fence_ctx = *ctx;
    l.fence_seqno = *seq;
  } else if (ptr) {
    l.fence_ptr = *ptr;
  } else {
    return Status::Error(
        "no job fence in the record (want u64 fence_context + fence_seqno, or "
        "struct dma_fence *fence)");
  }
  if (phase == KS_GPU_JOB_DONE) return l;
  if (const auto n = DataLocOff(fields, "name")) {
    l.name = *n;
    l.name_kind = KS_GPU_STR_DATA_LOC;
  } else if (const auto p = PtrOff(fields, "name")) {
    l.name = *p;
    l.name_kind = KS_GPU_STR_PTR;
  }
  if (const auto d = DataLocOff(fields, "dev")) l.dev = *d;
  if (const auto j = Off(fields, "job_count", 4)) l.job_count = *j;
  if (const auto h = Off(fields, "hw_job_count", 4)) l.hw_job_count = *h;
  if (const auto c = Off(fields, "client_id", 8)) l.client_id = *c;
  return l;
}

}  // namespace ksight::gpu
