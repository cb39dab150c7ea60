// process_records.cc - see process_records.h.
#include "probes/process/process_records.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/process_info.h"

namespace ksight::process {
namespace {

uint64_t ToUnix(uint64_t boot_ns, int64_t boot_to_unix_ns) {
  return static_cast<uint64_t>(static_cast<int64_t>(boot_ns) + boot_to_unix_ns);
}

void WriteTaskFields(JsonWriter& w, const ks_task& t, const Identity& id) {
  w.KV("pid", t.pid).KV("tid", t.tid).KV("comm", CommView(t.comm)).KV("cgroup_id", t.cgroup_id);
  if (!id.parsed.container_id.empty()) w.KV("container_id", id.parsed.container_id);
}

std::string_view Bounded(const char* s, size_t cap) { return {s, strnlen(s, cap)}; }

// The example of the fold past kMaxFolds keys: no comm, cgroup or pid of one of its processes.
void Anonymize(ks_task& t) {
  t.pid = t.tid = 0;
  t.cgroup_id = 0;
  std::memset(t.comm, 0, sizeof(t.comm));
}

}  // namespace

ExitStatus DecodeExitStatus(uint32_t st) {
  ExitStatus e;
  e.signal = static_cast<int>(st & 0x7f);
  e.core_dumped = (st & 0x80) != 0;
  e.code = e.signal == 0 ? static_cast<int>((st >> 8) & 0xff) : 0;
  return e;
}

std::string SignalName(int sig) {
  const char* abbrev = sig > 0 && sig < 65 ? sigabbrev_np(sig) : nullptr;
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("SIG{}", sig);
}

std::vector<std::string_view> SplitArgs(const char* args, size_t len) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < len) {
    const auto* nul = static_cast<const char*>(std::memchr(args + i, '\0', len - i));
    const size_t end = nul != nullptr ? static_cast<size_t>(nul - args) : len;
    out.emplace_back(args + i, end - i);
    i = end + 1;
  }
  return out;
}

bool Folder::Take(uint16_t type) {
  uint64_t& used = type == KS_REC_PROC_EXEC ? used_exec_ : used_exit_;
  if (used < limit_) {
    ++used;
    return true;
  }
  (type == KS_REC_PROC_EXEC ? total_exec_ : total_exit_)++;
  return false;
}

Folded& Folder::FoldOf(uint16_t type, const ks_rec_hdr& hdr, const ks_task& t, uint32_t status,
                       bool* other) {
  FoldKey k{type, std::string(CommView(t.comm)), t.cgroup_id, status};
  *other = folds_.size() >= kMaxFolds && !folds_.contains(k);
  if (*other) k = FoldKey{type, "", 0, 0};
  Folded& f = folds_[k];
  if (f.count++ == 0) f.first_ns = hdr.ts_ns;
  f.last_ns = hdr.ts_ns;
  return f;
}

bool Folder::Admit(const ks_proc_exec_rec& r) {
  if (Take(KS_REC_PROC_EXEC)) return true;
  bool other = false;
  Folded& f = FoldOf(KS_REC_PROC_EXEC, r.hdr, r.task, 0, &other);
  f.exec = r;
  if (other) Anonymize(f.exec->task);  // a count over many workloads: no one's identity
  return false;
}

bool Folder::Admit(const ks_proc_exit_rec& r) {
  if (Take(KS_REC_PROC_EXIT)) return true;
  bool other = false;
  Folded& f = FoldOf(KS_REC_PROC_EXIT, r.hdr, r.task, r.exit_code, &other);
  f.exit = r;
  if (other) Anonymize(f.exit->task);
  return false;
}

std::map<FoldKey, Folded> Folder::Drain() {
  used_exec_ = used_exit_ = 0;
  return std::exchange(folds_, {});
}

uint64_t Folder::folded_total(uint16_t type) const {
  return type == KS_REC_PROC_EXEC ? total_exec_ : total_exit_;
}

std::optional<OomKill> OomJoiner::OnOom(const ks_proc_oom_rec& r) {
  std::optional<OomKill> out;
  if (pending_.size() >= kMaxPending && !pending_.contains(r.victim_pid)) {
    auto oldest = std::min_element(
        pending_.begin(), pending_.end(),
        [](const auto& a, const auto& b) { return a.second.deadline_ns < b.second.deadline_ns; });
    out = oldest->second;
    pending_.erase(oldest);
  }
  OomKill& k = pending_[r.victim_pid];
  k.oom = r;
  k.exit.reset();
  k.deadline_ns = r.hdr.ts_ns + wait_ns_;
  return out;
}

std::optional<OomKill> OomJoiner::OnExit(const ks_proc_exit_rec& r) {
  auto it = pending_.find(r.task.pid);
  if (it == pending_.end()) {
    if (!r.oom_victim) return std::nullopt;
    OomKill k;  // marked by the kernel, but its mark_victim record was not seen
    k.oom.hdr = r.hdr;
    k.oom.victim_pid = r.task.pid;
    k.exit = r;
    return k;
  }
  OomKill k = it->second;
  pending_.erase(it);
  k.exit = r;
  return k;
}

std::vector<OomKill> OomJoiner::Expired(uint64_t now_ns) {
  std::vector<OomKill> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_ns <= now_ns) {
      out.push_back(it->second);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void WriteExec(JsonWriter& w, const ks_proc_exec_rec& r, IdentityCache& identity,
               int64_t boot_to_unix_ns) {
  const Identity& id = identity.Of(r.task.cgroup_id, r.task.pid);
  w.KObject("process");
  WriteTaskFields(w, r.task, id);
  w.KV("parent_pid", r.ppid);
  w.KObject("executable").KV("path", Bounded(r.filename, sizeof(r.filename))).EndObject();
  const size_t n = std::min<size_t>(r.args_len, sizeof(r.args));
  if (n > 0) {
    w.KArray("command_args");
    for (std::string_view a : SplitArgs(r.args, n)) w.String(a);
    w.EndArray();
    if (r.args_truncated) w.KV("command_args_truncated", true);
  }
  w.KObject("user").KV("id", r.uid).EndObject();
  w.KObject("creation").Key("time").Rfc3339(ToUnix(r.start_ns, boot_to_unix_ns)).EndObject();
  w.EndObject();
  WriteIdentity(w, id, identity.PodOf(id));
}

void WriteExit(JsonWriter& w, const ks_proc_exit_rec& r, IdentityCache& identity,
               int64_t boot_to_unix_ns) {
  const Identity& id = identity.Of(r.task.cgroup_id, r.task.pid);
  const ExitStatus st = DecodeExitStatus(r.exit_code);
  w.KObject("process");
  WriteTaskFields(w, r.task, id);
  w.KV("parent_pid", r.ppid);
  w.KObject("exit");
  if (st.signal != 0) {
    w.KV("signal", SignalName(st.signal)).KV("signal_number", st.signal);
  } else {
    w.KV("code", st.code);
  }
  w.KV("core_dumped", st.core_dumped).KV("oom_killed", r.oom_victim != 0);
  w.EndObject();
  w.KObject("creation").Key("time").Rfc3339(ToUnix(r.start_ns, boot_to_unix_ns)).EndObject();
  w.KV("runtime_ns", r.hdr.ts_ns > r.start_ns ? r.hdr.ts_ns - r.start_ns : 0);
  w.KV("cpu_ns", r.cpu_ns);
  w.EndObject();
  WriteIdentity(w, id, identity.PodOf(id));
}

void WriteFolded(JsonWriter& w, const Folded& f, int64_t boot_to_unix_ns) {
  w.KObject("folded").KV("count", f.count);
  w.Key("first").Rfc3339(ToUnix(f.first_ns, boot_to_unix_ns));
  w.Key("last").Rfc3339(ToUnix(f.last_ns, boot_to_unix_ns));
  w.EndObject();
}

void WriteOomKill(JsonWriter& w, const OomKill& k, IdentityCache& identity,
                  std::optional<uint64_t> memory_limit) {
  const ks_proc_oom_rec& o = k.oom;
  ks_task victim{};
  victim.pid = o.victim_pid;
  if (k.exit) {
    victim = k.exit->task;
  } else if (o.flags & KS_PROC_OOM_COMM) {
    std::memcpy(victim.comm, o.victim_comm, sizeof(victim.comm));
  }
  const Identity& id = k.exit ? identity.Of(victim.cgroup_id, victim.pid) : identity.Of(0, 0);
  w.KObject("process");
  w.KV("pid", victim.pid).KV("comm", CommView(victim.comm));
  if (k.exit) w.KV("cgroup_id", victim.cgroup_id);
  if (!id.parsed.container_id.empty()) w.KV("container_id", id.parsed.container_id);
  w.EndObject();
  WriteIdentity(w, id, identity.PodOf(id));
  w.KObject("oom");
  // How the victim's cgroup was found: from its exit record, or not at all (no exit in time).
  w.KV("victim_from", k.exit ? "exit" : "none");
  if (o.trigger.pid != 0) {
    w.KObject("trigger")
        .KV("pid", o.trigger.pid)
        .KV("comm", CommView(o.trigger.comm))
        .KV("cgroup_id", o.trigger.cgroup_id)
        .EndObject();
  }
  if (o.flags & KS_PROC_OOM_MEMORY) {
    w.KObject("memory");
    w.KV("total_vm_bytes", o.total_vm_kb * 1024).KV("anon_rss_bytes", o.anon_rss_kb * 1024);
    w.KV("file_rss_bytes", o.file_rss_kb * 1024).KV("shmem_rss_bytes", o.shmem_rss_kb * 1024);
    w.KV("pgtables_bytes", o.pgtables_kb * 1024);
    w.EndObject();
    w.KV("oom_score_adj", o.oom_score_adj).KV("uid", o.uid);
  }
  if (!id.cgroup_path.empty()) {
    w.KObject("cgroup").KV("path", id.cgroup_path);
    if (memory_limit) w.KV("memory_limit_bytes", *memory_limit);
    w.EndObject();
  }
  w.EndObject();
}

std::optional<uint64_t> ParseMemoryLimit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty() || text == "max") return std::nullopt;
  uint64_t v = 0;
  const auto [p, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (err != std::errc() || p != text.data() + text.size()) return std::nullopt;
  // cgroup v1 says "no limit" with PAGE_COUNTER_MAX pages (0x7ffffffffffff000 on 4K pages).
  if (v >= (1ULL << 62)) return std::nullopt;
  return v;
}

}  // namespace ksight::process
