#include "core/sink.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/thread.h"

namespace ksight {
namespace {

// A backup or temp file that cannot be removed stays on disk past the budget: say so.
void UnlinkOrWarn(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("cannot remove {}: {}", path, std::strerror(errno));
}

// The write loop shared by every fd-based sink: whole buffer or an error.
size_t WriteAll(const Sink& s, int fd, std::string_view data, Status& err) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR && !s.aborted()) continue;
      err = Status::Errno(fmt::format("write {}", s.name()), errno);
      return done;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

class FdSink : public Sink {
 public:
  FdSink(int fd, std::string name, bool regular)
      : fd_(fd), name_(std::move(name)), regular_(regular) {}

  size_t Write(std::string_view data, Status& err) override {
    return WriteAll(*this, fd_, data, err);
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
  bool regular_;
};

// Open path for appending with the checks every output file gets.
Result<int> OpenChecked(const std::string& path, unsigned mode, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) {
    const int e = errno;
    if (e == ELOOP) {
      return Status::Error(fmt::format("refusing output {}: it is a symbolic link (point --output "
                                       "at a regular file)",
                                       path),
                           e);
    }
    if (e == EISDIR) {
      return Status::Error(fmt::format("refusing output {}: it is a directory (use a file path "
                                       "such as {}/events.jsonl)",
                                       path, path),
                           e);
    }
    return Status::Errno(fmt::format("cannot open output {} (check the directory exists and is "
                                     "writable, or use --output -)",
                                     path),
                         e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    (void)::close(fd);  // nothing was written to it: close cannot lose data
    return Status::Error(fmt::format("refusing output {}: not a regular file", path));
  }
  if (st.st_uid != ::geteuid()) {
    (void)::close(fd);  // nothing was written to it
    return Status::Error(
        fmt::format("refusing output {}: owned by uid {}, not by this agent (uid "
                    "{}); remove it or choose another path",
                    path, st.st_uid, ::geteuid()));
  }
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

class FileSink : public Sink {
 public:
  FileSink(std::string path, FileSinkOptions opt, int fd, uint64_t size)
      : path_(std::move(path)), opt_(opt), fd_(fd), size_(size), backups_(path_) {
    if (opt_.max_size > 0) {
      std::lock_guard lk(mu_);
      backups_.Scan();
      backups_.EnforceBudget(size_.load(), opt_.max_total_size);
    }
    if (opt_.compress && opt_.max_size > 0) compressor_ = Thread([this] { CompressLoop(); });
  }
  ~FileSink() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (compressor_.joinable()) compressor_.join();
    if (fd_ >= 0 && ::close(fd_) != 0)
      spdlog::warn("closing {}: {} (its last lines may be lost)", path_, std::strerror(errno));
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  size_t Write(std::string_view data, Status& err) override {
    const size_t n = WriteAll(*this, fd_, data, err);
    size_.fetch_add(n);
    return n;
  }

  void DropTail(size_t n) override {
    if (n == 0) return;
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size >= static_cast<off_t>(n) &&
        ::ftruncate(fd_, st.st_size - static_cast<off_t>(n)) == 0) {
      size_.store(static_cast<uint64_t>(st.st_size) - n);
    }
  }

  const std::string& name() const override { return name_; }
  bool is_file() const override { return true; }
  uint64_t size() const override { return size_.load(); }
  uint64_t rotations() const override { return rotations_.load(); }

  uint64_t RoomBeforeRotation() const override {
    if (opt_.max_size == 0) return UINT64_MAX;
    if (std::chrono::steady_clock::now() < retry_at_) return UINT64_MAX;  // keep writing here
    const uint64_t s = size_.load();
    return s < opt_.max_size ? opt_.max_size - s : 0;
  }

  Status Rotate() override {
    Status st = RotateLocked();
    if (!st.ok()) {
      // Keep appending to the current file: nothing is lost; try again later.
      retry_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      spdlog::warn("rotating {} failed, still writing to the current file: {}", path_,
                   st.message());
    }
    return st;
  }

  Status Reopen() override { return OpenNew(); }

 private:
  // Open the file at path_ (created if missing) and write there from now on; on failure the
  // current fd stays in use.
  Status OpenNew() {
    uint64_t size = 0;
    auto fd = OpenChecked(path_, opt_.mode, &size);
    if (!fd) return fd.status();
    // close() can report a write error the kernel deferred (EIO, ENOSPC on NFS): the lines
    // are gone by then, but say so.
    if (::close(fd_) != 0) {
      spdlog::warn("closing the previous {}: {} (its last lines may be lost)", path_,
                   std::strerror(errno));
    }
    fd_ = *fd;
    size_.store(size);
    open_pending_ = false;
    return {};
  }

  Status RotateLocked() {
    std::unique_lock lk(mu_);
    if (!open_pending_) {
      KS_RETURN_IF_ERROR(backups_.Shift(opt_.max_backups));
      const std::string first = backups_.Name(1, false);
      if (::rename(path_.c_str(), first.c_str()) == 0) {
        last_id_ = backups_.AddNewest(size_.load());
      } else if (errno == ENOENT) {
        last_id_ = 0;  // moved away by someone else (logrotate without SIGUSR1): just reopen
      } else {
        return Status::Errno(fmt::format("rename {} -> {}", path_, first), errno);
      }
      open_pending_ = true;
    }
    // The old fd (now the .1 file) stays in use until the new file is open.
    KS_RETURN_IF_ERROR(OpenNew());
    const uint64_t size = size_.load();
    rotations_.fetch_add(1);
    const size_t deleted = backups_.EnforceBudget(size, opt_.max_total_size);
    if (deleted)
      spdlog::debug("{}: deleted {} old backup(s) to stay within max_total_size", path_, deleted);
    if (compressor_.joinable() && last_id_ != 0) {
      jobs_.push_back(last_id_);
      lk.unlock();
      cv_.notify_one();
    }
    return {};
  }

  void CompressLoop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and every backup handed over is compressed
      const uint64_t id = jobs_.front();
      jobs_.pop_front();
      const std::string src = backups_.PathOf(id);
      if (src.empty()) continue;
      const int fd = ::open(src.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      const std::string tmp = TmpName(id);
      lk.unlock();  // never hold the lock while compressing: the writer rotates meanwhile
      Status st = GzipFile(fd, tmp, opt_.mode);
      (void)::close(fd);  // read-only
      const uint64_t csize = FileSize(tmp);
      lk.lock();
      if (st.ok()) st = backups_.FinishCompression(id, tmp, csize);
      if (!st.ok()) {
        UnlinkOrWarn(tmp);
        spdlog::warn("compressing a backup of {} failed (kept uncompressed): {}", path_,
                     st.message());
        continue;
      }
      backups_.EnforceBudget(size_.load(), opt_.max_total_size);
    }
  }

  std::string TmpName(uint64_t id) const {
    const std::filesystem::path p(path_);
    return (p.parent_path() / fmt::format(".{}.{}.gz.tmp", p.filename().string(), id)).string();
  }

  std::string path_;
  std::string name_ = path_;
  FileSinkOptions opt_;
  int fd_;
  std::atomic<uint64_t> size_;
  std::atomic<uint64_t> rotations_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  bool open_pending_ = false;  // renamed away, the new file not open yet
  uint64_t last_id_ = 0;
  std::mutex mu_;  // backups_, jobs_, stop_
  std::condition_variable cv_;
  BackupSet backups_;
  std::deque<uint64_t> jobs_;
  bool stop_ = false;
  Thread compressor_;  // not std::thread: see core/thread.h
};

}  // namespace

std::unique_ptr<Sink> MakeFdSink(int fd, std::string name) {
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  return std::make_unique<FdSink>(fd, std::move(name), regular);
}

Result<std::unique_ptr<Sink>> OpenFileSink(const std::string& path, const FileSinkOptions& opt) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.has_parent_path()) {
    const fs::path dir = p.parent_path();
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      fs::create_directories(dir, ec);
      if (ec) {
        return Status::Error(
            fmt::format("cannot create log directory {}: {} (create it, or choose "
                        "another --output)",
                        dir.string(), ec.message()));
      }
      if (::chmod(dir.c_str(), 0750) != 0)
        spdlog::warn("cannot set mode 0750 on {}: {}", dir.string(), std::strerror(errno));
    }
  }
  uint64_t size = 0;
  auto fd = OpenChecked(path, opt.mode, &size);
  if (!fd) return fd.status();
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(path, opt, *fd, size));
}

// ---- BackupSet ----

std::string BackupSet::Name(uint32_t index, bool compressed) const {
  return fmt::format("{}.{}{}", base_, index, compressed ? ".gz" : "");
}

void BackupSet::Scan() {
  namespace fs = std::filesystem;
  entries_.clear();
  const fs::path p(base_);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string stem = p.filename().string() + ".";
  const std::string tmp_prefix = "." + p.filename().string() + ".";
  std::error_code ec;
  std::vector<Entry> found;
  // Not a range-for: its operator++ throws on a read error; increment(ec) does not.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& de = *it;
    const std::string n = de.path().filename().string();
    if (n.rfind(tmp_prefix, 0) == 0 && n.size() > 7 && n.ends_with(".gz.tmp")) {
      fs::remove(de.path(), ec);  // a compression cut short by a stop
      continue;
    }
    if (n.rfind(stem, 0) != 0) continue;
    std::string_view rest(n);
    rest.remove_prefix(stem.size());
    bool gz = false;
    if (rest.ends_with(".gz")) {
      gz = true;
      rest.remove_suffix(3);
    }
    if (rest.empty() || rest.size() > 9 ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    uint32_t idx = 0;  // at most 9 digits: fits
    std::from_chars(rest.data(), rest.data() + rest.size(), idx);
    if (idx == 0 || !de.is_regular_file(ec) || de.is_symlink(ec)) continue;
    found.push_back({0, idx, gz, FileSize(de.path().string())});
  }
  std::sort(found.begin(), found.end(), [](const Entry& a, const Entry& b) {
    return a.index != b.index ? a.index < b.index : a.compressed < b.compressed;
  });
  for (auto& e : found) {
    if (!entries_.empty() && entries_.back().index == e.index) {
      // base.N and base.N.gz: a compression was cut short; keep the original.
      UnlinkOrWarn(Name(e.index, true));
      continue;
    }
    e.id = next_id_++;
    entries_.push_back(e);
  }
}

Status BackupSet::Shift(uint32_t max_backups) {
  Status first;
  for (auto it = entries_.rbegin(); it != entries_.rend();) {
    Entry& e = *it;
    const std::string from = Name(e.index, e.compressed);
    if (e.index + 1 > max_backups) {
      UnlinkOrWarn(from);
      it = decltype(it)(entries_.erase(std::next(it).base()));
      continue;
    }
    const std::string to = Name(e.index + 1, e.compressed);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      if (first.ok()) first = Status::Errno(fmt::format("rename {} -> {}", from, to), errno);
      return first;  // stop: the names below would collide
    }
    e.index++;
    ++it;
  }
  return first;
}

uint64_t BackupSet::AddNewest(uint64_t size) {
  entries_.push_front({next_id_++, 1, false, size});
  return entries_.front().id;
}

size_t BackupSet::EnforceBudget(uint64_t current_size, uint64_t max_total) {
  if (max_total == 0) return 0;
  size_t n = 0;
  while (!entries_.empty() && current_size + total_size() > max_total) {
    UnlinkOrWarn(Name(entries_.back().index, entries_.back().compressed));
    entries_.pop_back();
    ++n;
  }
  return n;
}

std::string BackupSet::PathOf(uint64_t id) const {
  for (const auto& e : entries_) {
    if (e.id == id) return Name(e.index, e.compressed);
  }
  return {};
}

Status BackupSet::FinishCompression(uint64_t id, const std::string& tmp, uint64_t compressed_size) {
  for (auto& e : entries_) {
    if (e.id != id) continue;
    if (e.compressed) return Status::Error("already compressed");
    const std::string dst = Name(e.index, true);
    if (::rename(tmp.c_str(), dst.c_str()) != 0)
      return Status::Errno(fmt::format("rename {} -> {}", tmp, dst), errno);
    UnlinkOrWarn(Name(e.index, false));
    e.compressed = true;
    e.size = compressed_size;
    return {};
  }
  return Status::Error("the backup was deleted while being compressed");
}

uint64_t BackupSet::total_size() const {
  uint64_t t = 0;
  for (const auto& e : entries_) t += e.size;
  return t;
}

Status GzipFile(int src_fd, const std::string& dst, unsigned mode) {
  const int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return Status::Errno(fmt::format("create {}", dst), errno);
  gzFile gz = gzdopen(out, "wb6");
  if (!gz) {
    (void)::close(out);  // nothing written yet
    return Status::Error(fmt::format("gzdopen {}", dst));
  }
  std::vector<char> buf(size_t{256} << 10);
  Status st;
  for (;;) {
    const ssize_t n = ::read(src_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status::Errno("read backup", errno);
      break;
    }
    if (n == 0) break;
    if (gzwrite(gz, buf.data(), static_cast<unsigned>(n)) != static_cast<int>(n)) {
      int zerr = 0;
      st = Status::Error(fmt::format("gzwrite {}: {}", dst, gzerror(gz, &zerr)));
      break;
    }
  }
  if (gzclose(gz) != Z_OK && st.ok()) st = Status::Error(fmt::format("gzclose {}", dst));
  // Created 0600; the backup gets the file mode readers expect (a shipper's group).
  if (st.ok() && ::chmod(dst.c_str(), static_cast<mode_t>(mode)) != 0)
    st = Status::Errno(fmt::format("chmod {}", dst), errno);
  return st;
}

}  // namespace ksight
