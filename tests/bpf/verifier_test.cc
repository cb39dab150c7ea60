// Loads every program of every BPF object the build ships through the
// kernel verifier, one program at a time. A program may be skipped only when
// this host's own feature probe says its hook is absent (the agent then
// reports it disabled with that reason) - never an unexplained failure.
#include <bpf/libbpf.h>

#include <dirent.h>

#include <string>
#include <vector>

#include "core/host_features.h"
#include "core/loader.h"
#include "harness.h"

namespace ksight::test {
namespace {

std::vector<std::string> Objects() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(KSIGHT_BPF_DIR)) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 6 && n.substr(n.size() - 6) == ".bpf.o")
        out.push_back(std::string(KSIGHT_BPF_DIR) + "/" + n);
    }
    ::closedir(d);
  }
  return out;
}

// Why this host cannot run a program's hook, or "" if it should load.
std::string HookAbsent(const HostFeatures& host, const std::string& sec) {
  auto after = [&](const std::string& prefix) { return sec.substr(prefix.size()); };
  if (sec.rfind("tp_btf/", 0) == 0) {
    return host.TpBtfExists(after("tp_btf/")) ? "" : "no btf_trace_" + after("tp_btf/");
  }
  if (sec.rfind("fentry/", 0) == 0 || sec.rfind("fexit/", 0) == 0) {
    const std::string fn = sec.substr(sec.find('/') + 1);
    return host.BtfHasFunc(fn) ? "" : "no BTF for function " + fn;
  }
  return "";
}

TEST(Verifier, EveryProgramLoadsOrItsHookIsAbsent) {
  KS_REQUIRE_ROOT();
  const HostFeatures host = HostFeatures::Probe(true);
  const auto objs = Objects();
  ASSERT_FALSE(objs.empty()) << "no BPF objects in " << KSIGHT_BPF_DIR;
  int loaded = 0;
  for (const auto& path : objs) {
    bpf_object* probe = bpf_object__open_file(path.c_str(), nullptr);
    ASSERT_NE(probe, nullptr) << path;
    std::vector<std::string> progs;
    bpf_program* p;
    bpf_object__for_each_program(p, probe) progs.emplace_back(bpf_program__name(p));
    bpf_object__close(probe);

    for (const auto& name : progs) {
      bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
      ASSERT_NE(obj, nullptr);
      std::string sec;
      bpf_object__for_each_program(p, obj) {
        const bool me = name == bpf_program__name(p);
        bpf_program__set_autoload(p, me);
        if (me) sec = bpf_program__section_name(p);
      }
      const std::string absent = HookAbsent(host, sec);
      const int err = bpf_object__load(obj);
      if (absent.empty()) {
        EXPECT_EQ(err, 0) << path << ": " << name << " (" << sec << ") failed the verifier";
        loaded += err == 0;
      } else {
        std::printf("[ skipped  ] %s (%s): %s\n", name.c_str(), sec.c_str(), absent.c_str());
      }
      bpf_object__close(obj);
    }
  }
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace ksight::test
