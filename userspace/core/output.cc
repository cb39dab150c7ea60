#include "core/output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace ksight {

std::string_view DropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kRingFull: return "ring_full";
    case DropReason::kQueueFull: return "queue_full";
    case DropReason::kSinkError: return "sink_error";
    case DropReason::kDiskFull: return "disk_full";
    case DropReason::kRotation: return "rotation";
    case DropReason::kRateLimited: return "rate_limited";
    case DropReason::kCount: break;
  }
  return "unknown";
}

namespace {

class FdSink : public Sink {
 public:
  FdSink(int fd, std::string name, bool owned, bool regular)
      : fd_(fd), name_(std::move(name)), owned_(owned), regular_(regular) {}
  ~FdSink() override {
    if (owned_) ::close(fd_);
  }
  FdSink(const FdSink&) = delete;
  FdSink& operator=(const FdSink&) = delete;

  size_t Write(std::string_view data, Status& err) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = Status::Errno(fmt::format("write {}", name_), errno);
        return done;
      }
      done += static_cast<size_t>(n);
    }
    return done;
  }

  void DropTail(size_t n) override {
    if (!regular_ || n == 0) return;
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size >= static_cast<off_t>(n)) {
      if (::ftruncate(fd_, st.st_size - static_cast<off_t>(n)) != 0) {
        // Nothing more to do: the partial line stays; readers skip it.
      }
    }
  }

  const std::string& name() const override { return name_; }

 private:
  int fd_;
  std::string name_;
  bool owned_;
  bool regular_;
};

}  // namespace

std::unique_ptr<Sink> MakeFdSink(int fd, std::string name) {
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  return std::make_unique<FdSink>(fd, std::move(name), false, regular);
}

Result<std::unique_ptr<Sink>> OpenFileSink(const std::string& path, unsigned mode) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.has_parent_path()) {
    const fs::path dir = p.parent_path();
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      fs::create_directories(dir, ec);
      if (ec) {
        return Status::Error(fmt::format("cannot create log directory {}: {} (create it, or choose "
                                         "another --output)", dir.string(), ec.message()));
      }
      ::chmod(dir.c_str(), 0750);
    }
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP) {
      return Status::Error(fmt::format("refusing output {}: it is a symbolic link (point --output "
                                       "at a regular file)", path), e);
    }
    if (e == EISDIR) {
      return Status::Error(fmt::format("refusing output {}: it is a directory (use a file path "
                                       "such as {}/events.jsonl)", path, path), e);
    }
    return Status::Errno(fmt::format("cannot open output {} (check the directory exists and is "
                                     "writable, or use --output -)", path), e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(fmt::format("refusing output {}: not a regular file", path));
  }
  if (st.st_uid != ::geteuid()) {
    ::close(fd);
    return Status::Error(fmt::format("refusing output {}: owned by uid {}, not by this agent (uid "
                                     "{}); remove it or choose another path", path, st.st_uid,
                                     ::geteuid()));
  }
  return std::unique_ptr<Sink>(std::make_unique<FdSink>(fd, path, true, true));
}

Output::Output(EnvelopeInfo info, std::unique_ptr<Sink> sink)
    : info_(std::move(info)), sink_(std::move(sink)), w_(buf_) {
  std::string& t = envelope_tail_;
  t.append(R"(,"host":{"name":)");
  AppendJsonString(t, info_.host_name);
  t.append(R"(},"agent":{"name":"ksight","version":)");
  AppendJsonString(t, info_.agent_version);
  t.append(R"(,"instance_id":)");
  AppendJsonString(t, info_.instance_id);
  t.append("}");
  buf_.reserve(kFlushBytes * 2);
  RegisterProbe("agent");  // ProbeId 0: the agent's own records
}

ProbeId Output::RegisterProbe(std::string name) {
  probes_.push_back({std::move(name), {}, 0});
  return static_cast<ProbeId>(probes_.size() - 1);
}

JsonWriter& Output::Begin(ProbeId probe, std::string_view type, uint64_t ts_unix_ns) {
  cur_probe_ = probe;
  probes_[probe].counters.seen++;
  w_.Reset();
  w_.BeginObject();
  w_.Key("time").Rfc3339(ts_unix_ns);
  w_.KV("ts_unix_nano", ts_unix_ns);
  w_.KV("schema_version", uint64_t{1});
  w_.KObject("event").KV("type", type).KV("probe", probes_[probe].name).KV("seq", seq_++).EndObject();
  buf_.append(envelope_tail_);
  return w_;
}

void Output::End() {
  w_.EndObject();
  buf_.push_back('\n');
  lines_.push_back({static_cast<uint32_t>(buf_.size()), cur_probe_});
  if (buf_.size() >= kFlushBytes) Flush();
}

void Output::Flush() {
  if (buf_.empty()) return;
  Status err;
  const size_t written = sink_->Write(buf_, err);
  size_t partial = 0;
  uint32_t prev_end = 0;
  for (const auto& l : lines_) {
    auto& c = probes_[l.probe].counters;
    if (l.end <= written) {
      c.emitted++;
    } else {
      if (written > prev_end) partial = written - prev_end;
      c.dropped[static_cast<size_t>(err.err() == ENOSPC || err.err() == EDQUOT
                                        ? DropReason::kDiskFull
                                        : DropReason::kSinkError)]++;
    }
    prev_end = l.end;
  }
  if (partial) sink_->DropTail(partial);
  buf_.clear();
  lines_.clear();
}

void Output::SetBpfTotals(ProbeId probe, uint64_t bpf_seen, uint64_t ring_full, uint64_t map_full) {
  auto& e = probes_[probe];
  auto& c = e.counters;
  c.bpf_seen = bpf_seen;
  c.aggregation_lost = map_full;
  if (ring_full > e.ring_full_seen) {
    const uint64_t n = ring_full - e.ring_full_seen;
    c.seen += n;
    c.dropped[static_cast<size_t>(DropReason::kRingFull)] += n;
    e.ring_full_seen = ring_full;
  }
}

void Output::CountDrop(ProbeId probe, DropReason r, uint64_t n) {
  auto& c = probes_[probe].counters;
  c.seen += n;
  c.dropped[static_cast<size_t>(r)] += n;
}

}  // namespace ksight
