// libFuzzer target for the process probe's records and the cgroup path parser: any bytes as the
// body of an exec, exit or OOM record (unterminated strings, any lengths, any wait status) must
// format as valid JSON, and any bytes as a cgroup path must parse to ids of the right shape.
// Built and run briefly by ctest (tests/CMakeLists.txt, label fuzz).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_writer.h"
#include "core/workload_identity.h"
#include "probes/process/process_records.h"

namespace {

template <typename T>
T Body(const uint8_t* data, size_t size, uint16_t type) {
  T r{};
  std::memcpy(&r, data, std::min(size, sizeof(r)));
  r.hdr.type = type;
  r.hdr.size = sizeof(r);
  return r;
}

template <typename F>
void MustBeJson(F&& f) {
  std::string out;
  ksight::JsonWriter w(out);
  w.BeginObject();
  f(w);
  w.EndObject();
  if (!nlohmann::json::accept(out)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ksight;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const CgroupIdentity id = ParseCgroupPath(text);
  if (!id.container_id.empty() && id.container_id.size() != 64) std::abort();
  if (!id.pod_uid.empty() && id.pod_uid.size() != 36) std::abort();

  IdentityCache cache{IdentityCache::Options{}};
  cache.Learn(7, text);
  auto exec = Body<ks_proc_exec_rec>(data, size, KS_REC_PROC_EXEC);
  exec.task.pid = 0;  // keep /proc out of the loop
  exec.task.cgroup_id = 7;
  MustBeJson([&](JsonWriter& w) { process::WriteExec(w, exec, cache, 0); });
  auto exit = Body<ks_proc_exit_rec>(data, size, KS_REC_PROC_EXIT);
  exit.task.pid = 0;
  MustBeJson([&](JsonWriter& w) { process::WriteExit(w, exit, cache, 0); });
  process::OomKill k;
  k.oom = Body<ks_proc_oom_rec>(data, size, KS_REC_PROC_OOM);
  MustBeJson([&](JsonWriter& w) { process::WriteOomKill(w, k, cache, std::nullopt); });
  exit.task.cgroup_id = 7;
  k.exit = exit;
  MustBeJson([&](JsonWriter& w) { process::WriteOomKill(w, k, cache, uint64_t{1} << 30); });
  (void)process::ParseMemoryLimit(text);
  return 0;
}
