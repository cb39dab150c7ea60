#include "probes/syscalls/syscall_names.h"

#include <sys/syscall.h>

#include <cerrno>

#include <gtest/gtest.h>

namespace ksight::syscalls {
namespace {

// The compiled table against libc's <sys/syscall.h>, an independent source of the numbers.
TEST(SyscallNames, KnownX86_64Numbers) {
  EXPECT_EQ(SyscallName(SYS_read), "read");
  EXPECT_EQ(SyscallName(SYS_nanosleep), "nanosleep");
  EXPECT_EQ(SyscallName(SYS_getppid), "getppid");
  EXPECT_EQ(SyscallName(SYS_openat), "openat");
  EXPECT_EQ(SyscallName(SYS_clone3), "clone3");
#ifdef SYS_mseal
  EXPECT_EQ(SyscallName(SYS_mseal), "mseal");
#else
  EXPECT_EQ(SyscallName(462), "mseal");  // x86_64 ABI number; newer than this uapi header
#endif
}

TEST(SyscallNames, UnknownNumbers) {
  EXPECT_EQ(SyscallName(999), "unknown_999");
  EXPECT_EQ(SyscallName(400), "unknown_400");  // a hole in the x86_64 table
  EXPECT_EQ(SyscallName(UINT32_MAX), "unknown_4294967295");
}

TEST(SyscallNames, ReverseLookup) {
  EXPECT_EQ(SyscallNumber("openat"), static_cast<uint32_t>(SYS_openat));
  EXPECT_FALSE(SyscallNumber("nosuchcall").has_value());
}

TEST(ErrnoNames, NamesAndNumbers) {
  EXPECT_EQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_EQ(ErrnoName(EACCES), "EACCES");
  EXPECT_EQ(ErrnoName(4000), "E4000");  // no errno has that number
  EXPECT_EQ(ErrnoNumber("ENOENT"), static_cast<uint32_t>(ENOENT));
  EXPECT_EQ(ErrnoNumber("eperm"), static_cast<uint32_t>(EPERM));
  EXPECT_FALSE(ErrnoNumber("ENOTANERRNO").has_value());
}

}  // namespace
}  // namespace ksight::syscalls
