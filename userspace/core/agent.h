// agent.h - `ksight run` and `ksight check`.
#pragma once

#include "core/config.h"

namespace ksight {

// Exit codes shared by every command.
enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,  // no privileges, nothing can run, output unusable
  kExitUsage = 2,    // bad flag or config
};

// Run the agent in the foreground until SIGINT/SIGTERM or cfg.duration.
int RunAgent(const Config& cfg);
// Print, per probe, whether this host can run it and why not.
int CheckHost(const Config& cfg);

}  // namespace ksight
