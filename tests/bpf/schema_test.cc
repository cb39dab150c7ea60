// Real agent output, validated against the JSON Schema in docs/schema by
// tests/schema/validate.py (python3-jsonschema). The run is shaped so that
// every record type the syscalls probe and the agent produce appears.
#include <cstdlib>
#include <set>

#include "harness.h"

namespace ksight::test {
namespace {

TEST(Schema, RealOutputValidates) {
  KS_REQUIRE_ROOT();
  Child trig =
      Child::Spawn({Trigger("syscall_trigger"), "-w", "-g", "50000", "-e", "3"}, true, true);
  const int tpid = trig.pid;
  ASSERT_FALSE(trig.ReadLine().empty());
  Agent agent({"--pid", std::to_string(tpid), "--slow", "0", "--ring-size", "4KiB",
               "--drain-interval", "1s", "--interval", "1s", "--watch-errno", "ENOENT"},
              "schema");
  ASSERT_TRUE(agent.WaitRunning());
  trig.Go();
  EXPECT_EQ(trig.Wait(), 0);
  EXPECT_EQ(agent.Stop(), 0);

  std::set<std::string> types;
  for (const auto& r : agent.Records()) types.insert(r["event"]["type"].get<std::string>());
  // agent.loss appears only when the ring overflowed, which depends on how fast the agent
  // drains on this machine; LossIsCountedNeverSilent covers loss. Validated when present.
  for (const char* t : {"agent.status", "agent.heartbeat", "syscall", "syscall.stats"})
    EXPECT_TRUE(types.count(t)) << "no " << t << " record to validate";

  EXPECT_TRUE(SchemaValid(agent.path()));
}

}  // namespace
}  // namespace ksight::test
