// libFuzzer target for the command line (core/cli.h): any argv must give a command, the help
// text, or exactly one line of error with exit code 2 (kExitUsage); never a crash, a hang, an
// exception or undefined behaviour (run under ASan/UBSan).
//
// Input: the first byte picks the command prefix (none, run, check, config, config default,
// version); the rest is split into argv words on NUL and newline. `run` and `check` get
// `--config <empty file in a temp dir>` first, and the words that would name another config
// file (--config*, -c*) or start run/check without it are dropped: ParseCommandLine reads no
// file but that one.
//
// Built by tests/fuzz/CMakeLists.txt and run for a bounded number of inputs by ctest -L fuzz;
// longer runs by hand:
//   build/fuzz/argv_fuzz -max_total_time=600 build/fuzz/work/argv_fuzz/corpus
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/agent.h"
#include "core/cli.h"

namespace {

std::string g_config;  // an empty TOML file of our own

[[noreturn]] void Violation(const char* what, const ksight::Command& c) {
  std::fprintf(stderr, "argv_fuzz: %s (exit_now %d, exit_code %d)\nerr: [%s]\nout: [%.200s]\n",
               what, c.exit_now, c.exit_code, c.err.c_str(), c.out.c_str());
  std::abort();
}

bool Dropped(std::string_view w) {
  return w.starts_with("--config") || w.starts_with("-c") || w == "run" || w == "check";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  char dir[] = "/tmp/ksight-argv-fuzz.XXXXXX";
  if (!::mkdtemp(dir)) std::abort();
  g_config = std::string(dir) + "/empty.toml";
  FILE* f = std::fopen(g_config.c_str(), "w");
  if (!f || std::fclose(f) != 0) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<std::string> words = {"ksight"};
  switch (data[0] % 6) {
    case 0:
      break;
    case 1:
      words.insert(words.end(), {"run", "--config", g_config});
      break;
    case 2:
      words.insert(words.end(), {"check", "--config", g_config});
      break;
    case 3:
      words.emplace_back("config");
      break;
    case 4:
      words.insert(words.end(), {"config", "default"});
      break;
    case 5:
      words.emplace_back("version");
      break;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t start = 0;
  for (size_t i = 0; i <= rest.size() && words.size() < 64; ++i) {
    if (i < rest.size() && rest[i] != '\0' && rest[i] != '\n') continue;
    const std::string_view w = rest.substr(start, i - start);
    if (!Dropped(w)) words.emplace_back(w);
    start = i + 1;
  }
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  argv.push_back(nullptr);

  ksight::Command c;
  try {
    c = ksight::ParseCommandLine(static_cast<int>(words.size()), argv.data());
  } catch (...) {
    Violation("ParseCommandLine threw", c);
  }
  if (!c.exit_now) {
    if (c.kind == ksight::Command::Kind::kNone) Violation("no command and no exit", c);
    if (!c.err.empty() || !c.out.empty()) Violation("a command with text", c);
    return 0;
  }
  if (c.exit_code == 0) {  // --help / --help-all: the text on stdout, nothing on stderr
    if (c.out.empty() || !c.err.empty()) Violation("help without text, or with an error", c);
    return 0;
  }
  if (c.exit_code != ksight::kExitUsage) Violation("failure with an exit code other than 2", c);
  if (c.err.empty()) Violation("failure without a message", c);
  if (c.err.find('\n') != std::string::npos) Violation("failure message of several lines", c);
  if (!c.out.empty()) Violation("failure with stdout text", c);
  return 0;
}
