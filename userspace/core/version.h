// version.h - the agent's version (a compile definition from CMakeLists.txt's project()) and
// the git revision it was built from. The revision lives in one generated source file
// (build/version.cc) so that a new commit recompiles that file, not every target.
#pragma once

namespace ksight {

extern const char kGitRevision[];  // `git describe --always --dirty --tags`, or "unknown"

}  // namespace ksight
