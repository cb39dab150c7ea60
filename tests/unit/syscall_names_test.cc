#include "probes/syscalls/syscall_names.h"

#include <gtest/gtest.h>

namespace ksight::syscalls {
namespace {

TEST(SyscallNames, KnownX86_64Numbers) {
  EXPECT_EQ(SyscallName(0), "read");
  EXPECT_EQ(SyscallName(35), "nanosleep");
  EXPECT_EQ(SyscallName(110), "getppid");
  EXPECT_EQ(SyscallName(257), "openat");
  EXPECT_EQ(SyscallName(435), "clone3");
  EXPECT_EQ(SyscallName(462), "mseal");  // newer than the uapi header
}

TEST(SyscallNames, UnknownNumbers) {
  EXPECT_EQ(SyscallName(999), "unknown_999");
  EXPECT_EQ(SyscallName(400), "unknown_400");  // a hole in the x86_64 table
  EXPECT_EQ(SyscallName(UINT32_MAX), "unknown_4294967295");
}

TEST(SyscallNames, ReverseLookup) {
  EXPECT_EQ(SyscallNumber("openat"), 257u);
  EXPECT_FALSE(SyscallNumber("nosuchcall").has_value());
}

TEST(ErrnoNames, NamesAndNumbers) {
  EXPECT_EQ(ErrnoName(2), "ENOENT");
  EXPECT_EQ(ErrnoName(13), "EACCES");
  EXPECT_EQ(ErrnoName(4000), "E4000");
  EXPECT_EQ(ErrnoNumber("ENOENT"), 2u);
  EXPECT_EQ(ErrnoNumber("eperm"), 1u);
  EXPECT_FALSE(ErrnoNumber("ENOTANERRNO").has_value());
}

}  // namespace
}  // namespace ksight::syscalls
