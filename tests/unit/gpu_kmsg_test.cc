// The /dev/kmsg record format, the sequence cursor (what is new, what was lost) and the saved
// position (probes/gpu/kmsg.h). The reader itself is tested on the real /dev/kmsg in
// tests/bpf/gpu_test.cc.
#include <gtest/gtest.h>

#include "probes/gpu/kmsg.h"

namespace ksight::gpu {
namespace {

TEST(Kmsg, ParsesPriorityLevelSequenceTimeAndText) {
  auto r = ParseKmsgRecord(
      "4,1234,5678901,-;NVRM: Xid (PCI:0000:41:00): 119, pid='<unknown>', name=<unknown>\n"
      " SUBSYSTEM=pci\n DEVICE=+pci:0000:41:00.0\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->level, 4);
  EXPECT_EQ(r->facility, 0);
  EXPECT_EQ(r->seq, 1234u);
  EXPECT_EQ(r->ts_usec, 5678901u);
  EXPECT_EQ(r->text, "NVRM: Xid (PCI:0000:41:00): 119, pid='<unknown>', name=<unknown>");

  // A line written to /dev/kmsg without a facility is "user" (1): PRI 13 = 1 * 8 + 5.
  r = ParseKmsgRecord("13,7,100,-,caller=T42;i915 0000:00:02.0: [drm] GPU HANG\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->level, 5);
  EXPECT_EQ(r->facility, 1);
  EXPECT_EQ(r->text, "i915 0000:00:02.0: [drm] GPU HANG");
}

TEST(Kmsg, DecodesEscapedBytes) {
  auto r = ParseKmsgRecord("6,1,1,-;tab\\x09here back\\x5cslash \\xZZ kept \\x4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text, "tab\there back\\slash \\xZZ kept \\x4");
}

TEST(Kmsg, RejectsWhatIsNotARecord) {
  for (const char* bad : {"", "no semicolon", "4,1;text", "x,1,2,-;t", "4,,2,-;t", "4,1,2;t",
                          "4,-1,2,-;t", "4,1,99999999999999999999999,-;t"}) {
    EXPECT_FALSE(ParseKmsgRecord(bad)) << bad;
  }
}

TEST(Kmsg, CursorCountsGapsAndSkipsWhatWasDelivered) {
  KmsgCursor c;
  EXPECT_TRUE(c.Accept(100));  // the first record read: nothing known before it
  EXPECT_TRUE(c.Accept(101));
  EXPECT_EQ(c.lost(), 0u);
  EXPECT_TRUE(c.Accept(110));  // EPIPE: 102..109 were overwritten before they were read
  EXPECT_EQ(c.lost(), 8u);
  EXPECT_FALSE(c.Accept(110));
  EXPECT_FALSE(c.Accept(50));
  EXPECT_EQ(c.last(), 110u);

  KmsgCursor r;  // after a restart, resumed from the saved position
  r.ResumeAfter(200);
  EXPECT_FALSE(r.Accept(150));  // read again from the oldest stored record: skipped
  EXPECT_FALSE(r.Accept(200));
  EXPECT_TRUE(r.Accept(201));
  EXPECT_EQ(r.lost(), 0u);
  KmsgCursor o;
  o.ResumeAfter(200);
  EXPECT_TRUE(o.Accept(260));  // the log wrapped while the agent was stopped
  EXPECT_EQ(o.lost(), 59u);
}

TEST(Kmsg, StateFileHoldsTheBootAndPosition) {
  const std::string boot = "8d2c4a43-0b5b-4b3e-9f65-1d6c1c9f3a10";
  const std::string text = KmsgStateText(boot, 4242);
  EXPECT_EQ(text, boot + " 4242\n");
  EXPECT_EQ(KmsgStateSeq(text, boot), 4242u);
  EXPECT_FALSE(KmsgStateSeq(text, "another-boot"));  // sequence numbers restart each boot
  EXPECT_FALSE(KmsgStateSeq(text, ""));
  EXPECT_FALSE(KmsgStateSeq("", boot));
  EXPECT_FALSE(KmsgStateSeq(boot + " x\n", boot));
  EXPECT_FALSE(KmsgStateSeq(boot + "\n", boot));
}

// Without the device: one line saying what and how, and a reader that reads nothing.
TEST(Kmsg, ReaderWithoutTheDeviceSaysWhyAndHow) {
  KmsgReader r;
  const Status st = r.Open({.path = "/nonexistent/kmsg", .state_file = "", .boot_id = "b"});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "opening /nonexistent/kmsg: No such file or directory (the agent needs root or "
            "CAP_SYSLOG)");
  EXPECT_FALSE(r.open());
  EXPECT_EQ(r.Poll([](const KmsgRecord&) {}), 0u);
  EXPECT_TRUE(r.Save().ok());
}

}  // namespace
}  // namespace ksight::gpu
