// abi_table.h - the agent's (C++) view of every struct the BPF objects share with it, which
// tests/unit/abi_test.cc compares with each object's BTF. One file per probe
// (tests/unit/abi/<probe>_abi.cc) registers its own table; common_abi.cc holds what every
// object carries (ksight_abi.h). A new probe adds its file: nothing central changes.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace ksight::test {

struct AbiMember {
  std::string_view name;
  size_t offset;
  size_t size;
};

struct AbiStruct {
  std::string_view name;  // without "struct "
  size_t size;
  std::vector<AbiMember> members;  // every member, in declaration order
};

struct AbiTable {
  std::string_view probe;  // "<probe>" for build/bpf/<probe>.bpf.o, kEveryObject for all
  std::vector<AbiStruct> structs;
};
inline constexpr std::string_view kEveryObject = "*";

inline std::vector<AbiTable>& AbiTables() {
  static std::vector<AbiTable> tables;
  return tables;
}

// `const AbiRegistration kRegistered({"probe", {...}});` at namespace scope in a table file.
struct AbiRegistration {
  explicit AbiRegistration(AbiTable t) { AbiTables().push_back(std::move(t)); }
};

}  // namespace ksight::test

// One member of struct T as the C++ compiler lays it out.
#define KS_ABI_MEMBER(T, m) \
  ::ksight::test::AbiMember { #m, offsetof(T, m), sizeof(T::m) }
// struct T with its members (each a KS_ABI_MEMBER(T, ...)).
#define KS_ABI_STRUCT(T, ...)      \
  ::ksight::test::AbiStruct {      \
#T, sizeof(T), { __VA_ARGS__ } \
  }
