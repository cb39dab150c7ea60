#include "core/process_info.h"

#include <sys/stat.h>

#include <fmt/format.h>

namespace ksight {

std::string_view CommView(const char (&comm)[KS_COMM_LEN]) {
  size_t n = 0;
  while (n < KS_COMM_LEN && comm[n] != '\0') ++n;
  return {comm, n};
}

bool ProcessExists(uint32_t pid) {
  struct stat st {};
  return ::stat(fmt::format("/proc/{}", pid).c_str(), &st) == 0;
}

void WriteProcess(JsonWriter& w, const ks_task& t, IdentityCache& identity,
                  std::string_view source) {
  const Identity& id = identity.Of(t.cgroup_id, t.pid);
  w.KObject("process");
  w.KV("pid", t.pid).KV("tid", t.tid).KV("comm", CommView(t.comm)).KV("cgroup_id", t.cgroup_id);
  if (!id.parsed.container_id.empty()) w.KV("container_id", id.parsed.container_id);
  if (!source.empty()) w.KV("source", source);
  w.EndObject();
  WriteIdentity(w, id, identity.PodOf(id));
}

}  // namespace ksight
