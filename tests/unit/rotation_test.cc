// Rotation on real files in a temp directory (no root needed): backup
// naming and shifting, the max_backups and max_total_size caps, startup scan,
// gzip of backups, and a writer that never splits a line across files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/output.h"
#include "core/sink.h"

namespace ksight {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Rotation : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("ksight_rot_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    base_ = (dir_ / "events.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Touch(const std::string& p, const std::string& content) { std::ofstream(p) << content; }
  std::string Read(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
  std::string base_;
};

TEST_F(Rotation, ShiftRenamesNewestFirstAndDropsBeyondMax) {
  BackupSet b(base_);
  EXPECT_EQ(b.Name(1, false), base_ + ".1");
  EXPECT_EQ(b.Name(3, true), base_ + ".3.gz");
  for (int gen = 0; gen < 4; ++gen) {
    ASSERT_TRUE(b.Shift(3).ok());
    Touch(base_ + ".1", "gen" + std::to_string(gen));
    b.AddNewest(4);
  }
  // Three backups, newest = gen3 at .1; gen0 was deleted.
  ASSERT_EQ(b.entries().size(), 3u);
  EXPECT_EQ(Read(base_ + ".1"), "gen3");
  EXPECT_EQ(Read(base_ + ".2"), "gen2");
  EXPECT_EQ(Read(base_ + ".3"), "gen1");
  EXPECT_FALSE(fs::exists(base_ + ".4"));
}

TEST_F(Rotation, BudgetDeletesOldestFirst) {
  BackupSet b(base_);
  for (int gen = 0; gen < 5; ++gen) {
    ASSERT_TRUE(b.Shift(10).ok());
    Touch(base_ + ".1", std::string(100, 'a'));
    b.AddNewest(100);
  }
  EXPECT_EQ(b.EnforceBudget(50, 300), 3u);  // 50 + 5*100 > 300: keep two (250)
  ASSERT_EQ(b.entries().size(), 2u);
  EXPECT_TRUE(fs::exists(base_ + ".1"));
  EXPECT_TRUE(fs::exists(base_ + ".2"));
  EXPECT_FALSE(fs::exists(base_ + ".3"));
  EXPECT_EQ(b.EnforceBudget(50, 0), 0u);  // 0 = no cap
}

TEST_F(Rotation, ScanFindsBackupsIgnoresStrangersAndCleansUp) {
  Touch(base_ + ".1", "a");
  Touch(base_ + ".2.gz", "bb");
  Touch(base_ + ".4", "cccc");
  Touch(base_ + ".4.gz", "half");  // a compression cut short
  Touch(base_ + ".old", "x");
  Touch((dir_ / "other.jsonl.1").string(), "x");
  Touch((dir_ / ".events.jsonl.7.gz.tmp").string(), "x");
  BackupSet b(base_);
  b.Scan();
  ASSERT_EQ(b.entries().size(), 3u);
  EXPECT_EQ(b.entries()[0].index, 1u);
  EXPECT_TRUE(b.entries()[1].compressed);
  EXPECT_EQ(b.entries()[2].index, 4u);
  EXPECT_FALSE(b.entries()[2].compressed);
  EXPECT_EQ(b.total_size(), 7u);
  EXPECT_FALSE(fs::exists(base_ + ".4.gz"));
  EXPECT_FALSE(fs::exists(dir_ / ".events.jsonl.7.gz.tmp"));
  EXPECT_TRUE(fs::exists(base_ + ".old"));
  ASSERT_TRUE(b.Shift(4).ok());  // .4 is the 4th: shifted out
  EXPECT_TRUE(fs::exists(base_ + ".2"));
  EXPECT_TRUE(fs::exists(base_ + ".3.gz"));
  EXPECT_FALSE(fs::exists(base_ + ".5"));
  EXPECT_FALSE(fs::exists(base_ + ".4"));
}

TEST_F(Rotation, GzipRoundTrips) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"line\":" + std::to_string(i) + "}\n";
  Touch(base_, text);
  const int fd = ::open(base_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(GzipFile(fd, base_ + ".gz", 0640).ok());
  ::close(fd);
  struct stat st {};
  ASSERT_EQ(::stat((base_ + ".gz").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_LT(static_cast<size_t>(st.st_size), text.size());
  gzFile gz = gzopen((base_ + ".gz").c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  std::string back(text.size() + 10, '\0');
  const int n = gzread(gz, back.data(), static_cast<unsigned>(back.size()));
  gzclose(gz);
  back.resize(static_cast<size_t>(n));
  EXPECT_EQ(back, text);
}

// The real file sink behind a writer: many rotations, every line whole,
// every file within the limit, nothing lost, newest backup = .1.
void RunRotation(const std::string& base, bool compress, uint32_t backups, uint64_t budget,
                 uint64_t* lines_out, OutputSnapshot* snap_out) {
  FileSinkOptions fo;
  fo.max_size = 8192;
  fo.max_backups = backups;
  fo.compress = compress;
  fo.max_total_size = budget;
  auto sink = OpenFileSink(base, fo);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  Output out({"h", "v", "i"});
  out.AddSink(std::move(sink.value()), 64u << 20);  // room for all: only rotation could lose
  const ProbeId p = out.RegisterProbe("t");
  uint64_t n = 0;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 40; ++i, ++n) {
      auto& w = out.Begin(p, "test.line", 1);
      w.KV("pad", std::string(static_cast<size_t>(i * 7 % 150), 'y'));
      out.End();
    }
    out.Flush();
  }
  ASSERT_TRUE(out.Settle(30s));
  *snap_out = out.Snapshot();
  out.StopSinks(5s);
  *lines_out = n;
}

TEST_F(Rotation, WriterRotatesBetweenLinesAndLosesNothing) {
  uint64_t n = 0;
  OutputSnapshot snap;
  RunRotation(base_, false, 1000, 0, &n, &snap);
  const auto& v = snap.probes[1].sinks[0];
  EXPECT_EQ(v.emitted, n);
  EXPECT_EQ(v.dropped_total(), 0u);
  EXPECT_GE(snap.sinks[0].rotations, 50u);
  // Oldest backup first, then newer, then the current file: seq 0..n-1 in order.
  std::vector<std::string> files;
  for (uint64_t i = snap.sinks[0].rotations; i >= 1; --i)
    files.push_back(base_ + "." + std::to_string(i));
  files.push_back(base_);
  uint64_t seq = 0;
  for (const auto& f : files) {
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_LE(fs::file_size(f), 8192u) << f;
    std::ifstream in(f);
    std::string line;
    while (std::getline(in, line)) {
      ASSERT_EQ(line.front(), '{');
      ASSERT_EQ(line.back(), '}');
      const auto pos = line.find("\"seq\":");
      ASSERT_NE(pos, std::string::npos);
      ASSERT_EQ(std::stoull(line.substr(pos + 6)), seq++) << f;
    }
  }
  EXPECT_EQ(seq, n);
}

TEST_F(Rotation, CompressedBackupsWithinTheBudget) {
  uint64_t n = 0;
  OutputSnapshot snap;
  RunRotation(base_, true, 1000, 64 * 1024, &n, &snap);
  EXPECT_EQ(snap.probes[1].sinks[0].emitted, n);
  uint64_t total = 0, gz = 0;
  for (const auto& de : fs::directory_iterator(dir_)) {
    total += fs::file_size(de.path());
    gz += de.path().extension() == ".gz";
  }
  EXPECT_GT(gz, 0u);
  // The budget holds, compressed or not (current file + backups).
  EXPECT_LE(total, 64u * 1024 + 8192u);
}

}  // namespace
}  // namespace ksight
