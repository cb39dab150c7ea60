// kmsg.cc - /dev/kmsg records, the read position and its state file (kmsg.h).
#include "probes/gpu/kmsg.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ksight::gpu {
namespace {

std::optional<uint64_t> ToU64(std::string_view s) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The kernel escapes '\\' and bytes outside printable ASCII as \xNN.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      const int hi = HexDigit(s[i + 2]);
      const int lo = HexDigit(s[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::optional<KmsgRecord> ParseKmsgRecord(std::string_view rec) {
  const size_t semi = rec.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  std::string_view prefix = rec.substr(0, semi);
  std::string_view fields[3];
  for (auto& f : fields) {
    const size_t comma = prefix.find(',');
    if (comma == std::string_view::npos) return std::nullopt;  // FLAGS follows the three
    f = prefix.substr(0, comma);
    prefix.remove_prefix(comma + 1);
  }
  const auto pri = ToU64(fields[0]);
  const auto seq = ToU64(fields[1]);
  const auto ts = ToU64(fields[2]);
  if (!pri || !seq || !ts) return std::nullopt;
  std::string_view text = rec.substr(semi + 1);
  text = text.substr(0, text.find('\n'));  // the dictionary lines follow
  KmsgRecord r;
  r.level = static_cast<int>(*pri & 7);
  r.facility = static_cast<int>(*pri >> 3);
  r.seq = *seq;
  r.ts_usec = *ts;
  r.text = Unescape(text);
  return r;
}

bool KmsgCursor::Accept(uint64_t seq) {
  if (have_last_) {
    if (seq <= last_) return false;
    lost_ += seq - last_ - 1;
  }
  last_ = seq;
  have_last_ = true;
  return true;
}

std::string KmsgStateText(std::string_view boot_id, uint64_t seq) {
  return fmt::format("{} {}\n", boot_id, seq);
}

std::optional<uint64_t> KmsgStateSeq(std::string_view text, std::string_view boot_id) {
  if (boot_id.empty()) return std::nullopt;
  const size_t sp = text.find(' ');
  if (sp == std::string_view::npos || text.substr(0, sp) != boot_id) return std::nullopt;
  std::string_view n = text.substr(sp + 1);
  while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.remove_suffix(1);
  return ToU64(n);
}

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!(in >> id)) return {};
  return id;
}

KmsgReader::~KmsgReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status KmsgReader::Open(Options opt) {
  opt_ = std::move(opt);
  fd_ = ::open(opt_.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    return Status::Error(fmt::format("opening {}: {} (the agent needs root or CAP_SYSLOG)",
                                     opt_.path, std::strerror(errno)));
  }
  std::optional<uint64_t> resume;
  if (!opt_.state_file.empty()) {
    std::ifstream in(opt_.state_file);
    std::stringstream ss;
    ss << in.rdbuf();
    resume = KmsgStateSeq(ss.str(), opt_.boot_id);
  }
  // From the oldest record still stored, skipping what was delivered before the restart;
  // else from the end: records older than the agent are not reported.
  if (::lseek(fd_, 0, resume ? SEEK_SET : SEEK_END) < 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    return Status::Error(fmt::format("seeking {}: {}", opt_.path, std::strerror(e)));
  }
  if (resume) {
    cursor_.ResumeAfter(*resume);
    saved_ = *resume;
    resumed_ = true;
  }
  return {};
}

size_t KmsgReader::Poll(const std::function<void(const KmsgRecord&)>& deliver) {
  if (fd_ < 0) return 0;
  char buf[16384];
  size_t n = 0;
  for (;;) {
    const ssize_t r = ::read(fd_, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      // Overwritten before they were read: the next read returns the oldest record still
      // stored, and the jump in its sequence number counts what was lost.
      if (errno == EPIPE) continue;
      if (errno != EAGAIN) ++read_errors_;
      break;
    }
    if (r == 0) break;
    auto rec = ParseKmsgRecord(std::string_view(buf, static_cast<size_t>(r)));
    if (!rec) {
      ++malformed_;
      continue;
    }
    if (!cursor_.Accept(rec->seq)) continue;
    deliver(*rec);
    ++n;
  }
  return n;
}

Status KmsgReader::Save() {
  if (opt_.state_file.empty() || !cursor_.has_last() || cursor_.last() == saved_) return {};
  const std::string tmp = opt_.state_file + ".tmp";
  const std::string text = KmsgStateText(opt_.boot_id, cursor_.last());
  FILE* f = std::fopen(tmp.c_str(), "we");
  if (!f) return Status::Error(fmt::format("writing {}: {}", tmp, std::strerror(errno)));
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !wrote) {
    return Status::Error(fmt::format("writing {}: {}", tmp, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), opt_.state_file.c_str()) != 0) {
    return Status::Error(
        fmt::format("renaming {} to {}: {}", tmp, opt_.state_file, std::strerror(errno)));
  }
  saved_ = cursor_.last();
  return {};
}

}  // namespace ksight::gpu
