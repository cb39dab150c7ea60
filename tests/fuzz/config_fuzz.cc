// libFuzzer target for the config file parser: any text must give a Config or a clear error
// (file:line and key), never a crash, a hang or undefined behaviour (run under ASan/UBSan).
// Built and run briefly by ctest (tests/CMakeLists.txt, label fuzz); longer runs by hand:
//   build/fuzz/config_fuzz -max_total_time=300 tests/fuzz/corpus/config
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ksight::Config cfg;
  const ksight::Status st = ksight::ParseConfigText(text, "fuzz.toml", cfg);
  if (!st.ok()) {
    // An error always says something and names the source.
    if (st.message().empty() || st.message().find("fuzz.toml") == std::string::npos) std::abort();
  } else {
    (void)ksight::ValidateConfig(cfg);
  }
  // The value parsers see user text too (flags and the file).
  (void)ksight::ParseDuration(text);
  (void)ksight::ParseSize(text);
  return 0;
}
