// agent.h - `ksight run` and `ksight check`.
#pragma once

#include <functional>

#include "core/config.h"
#include "core/status.h"

namespace ksight {

// Exit codes shared by every command.
enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,  // no privileges, nothing can run, output unusable
  kExitUsage = 2,    // bad flag or config
  // A bug: an exception reached main() (one "ksight: internal error: ..." line on stderr).
  // 70 is EX_SOFTWARE of sysexits.h.
  kExitInternal = 70,
};

// Reads the config again (file + the original flags, validated) on SIGHUP.
using ConfigLoader = std::function<Result<Config>()>;

// Run the agent in the foreground until SIGINT/SIGTERM or cfg.duration.
int RunAgent(const Config& cfg, ConfigLoader reload = {});
// Print, per probe, whether this host can run it and why not.
int CheckHost(const Config& cfg);

}  // namespace ksight
