// cli.h - the command line (CLI11): subcommands, flags, and their merge with
// the config file. Flags win over the file.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace ksight {

struct Command {
  enum class Kind { kNone, kRun, kCheck, kVersion, kConfigDefault } kind = Kind::kNone;
  Config cfg;
  // When set, the process should print out/err and exit with exit_code.
  bool exit_now = false;
  int exit_code = 0;
  std::string out;  // text for stdout (help)
  std::string err;  // one clear line for stderr
};

// Parse argv; never throws, never exits.
Command ParseCommandLine(int argc, const char* const* argv);

}  // namespace ksight
