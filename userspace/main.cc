// ksight - command-line entry point. Everything else lives in userspace/core
// and userspace/probes; this file only dispatches and maps errors to exits.
#include <unistd.h>

#include <cstdio>
#include <exception>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/agent.h"
#include "core/cli.h"
#include "core/probe.h"
#include "core/version.h"

namespace {

int Dispatch(int argc, char** argv) {
  using namespace ksight;
  // The agent's own log: stderr only (journald picks it up), never the event stream.
  auto logger = spdlog::stderr_color_mt("ksight");
  logger->set_pattern(isatty(STDERR_FILENO) ? "%^%L%$ %H:%M:%S.%e %v" : "%L %v");
  spdlog::set_default_logger(logger);

  Command cmd = ParseCommandLine(argc, argv);
  if (cmd.exit_now) {
    if (!cmd.out.empty()) std::fputs(cmd.out.c_str(), stdout);
    if (!cmd.err.empty()) std::fprintf(stderr, "ksight: %s\n", cmd.err.c_str());
    return cmd.exit_code;
  }
  spdlog::set_level(spdlog::level::from_str(cmd.cfg.log_level));
  switch (cmd.kind) {
    case Command::Kind::kVersion:
      std::printf("ksight %s (%s)\n", KSIGHT_VERSION, ksight::kGitRevision);
      return kExitOk;
    case Command::Kind::kConfigDefault:
      std::fputs(DefaultConfigText().c_str(), stdout);
      return kExitOk;
    case Command::Kind::kCheck:
      return CheckHost(cmd.cfg);
    case Command::Kind::kRun:
      return RunAgent(cmd.cfg, [argc, argv]() -> Result<Config> {
        Command again = ParseCommandLine(argc, argv);
        if (again.exit_now) return Status::Error(again.err);
        return again.cfg;
      });
    case Command::Kind::kNone:
      break;
  }
  return kExitUsage;
}

}  // namespace

// Errors are values everywhere below; an exception that still reaches here is a bug. It gets
// one line on stderr and kExitInternal instead of std::terminate's abort (exit 134, a core).
// The stack has unwound by then: attached probes are detached by their destructors.
int main(int argc, char** argv) {
  try {
    return Dispatch(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ksight: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ksight: internal error: unknown exception\n");
  }
  return ksight::kExitInternal;
}
