// The BPF <-> agent ABI, checked from the compiled objects' BTF (as Tetragon's alignchecker
// does), not by a "keep in sync" comment: for each probe, build/bpf/<probe>.bpf.o is opened
// with btf__parse() and every shared struct's size and every member's offset and size are
// compared with the C++ compiler's sizeof/offsetof (the tables in tests/unit/abi/).
//
// The rule, per object:
//  - every named struct "ks_*" in the object's BTF is shared with user space (ring records,
//    map keys and values, settings) and must be in the C++ table of the object (its probe's
//    tests/unit/abi/<probe>_abi.cc, or common_abi.cc): a BPF-only struct must not use the ks_
//    prefix;
//  - every struct of those tables must be in the object's BTF, or nothing checks it (a ring
//    record used only through pointers needs KS_ABI_EXPORT() in its .bpf.c);
//  - size, and each member's name, offset and size, must be equal on both sides: a member
//    added, removed, moved or resized on one side only fails, naming struct and member.
// Every probe with a bpf/probes/<probe>/<probe>.bpf.c must have its built object: a missing
// object is a failure, not a skip (the unit tests run after `make agent`).
#include <bpf/btf.h>

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "abi/abi_table.h"

namespace ksight::test {
namespace {

// Probes with BPF sources: bpf/probes/<probe>/<probe>.bpf.c.
std::vector<std::string> Probes() {
  std::vector<std::string> out;
  const std::string root = std::string(KSIGHT_SOURCE_DIR) + "/bpf/probes";
  if (DIR* d = ::opendir(root.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      struct stat st {};
      if (n[0] != '.' && ::stat((root + "/" + n + "/" + n + ".bpf.c").c_str(), &st) == 0)
        out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The tables that apply to one probe's object, by struct name.
std::map<std::string, const AbiStruct*> TableFor(const std::string& probe) {
  std::map<std::string, const AbiStruct*> out;
  for (const AbiTable& t : AbiTables()) {
    if (t.probe != kEveryObject && t.probe != probe) continue;
    for (const AbiStruct& s : t.structs) {
      EXPECT_TRUE(out.emplace(std::string(s.name), &s).second)
          << "struct " << s.name << " is listed twice in the ABI tables of " << probe;
    }
  }
  return out;
}

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

// Every difference between one BTF struct and its C++ table entry.
std::vector<std::string> Compare(const btf* b, const btf_type* t, const AbiStruct& cpp) {
  std::vector<std::string> errs;
  const std::string sname = "struct " + std::string(cpp.name);
  if (t->size != cpp.size) {
    errs.push_back(sname + ": size " + std::to_string(t->size) + " in BPF, " +
                   std::to_string(cpp.size) + " in C++");
  }
  std::map<std::string, const AbiMember*> want;
  for (const AbiMember& m : cpp.members) want.emplace(std::string(m.name), &m);
  const btf_member* m = btf_members(t);
  for (unsigned i = 0; i < btf_vlen(t); ++i, ++m) {
    const std::string name = btf__name_by_offset(b, m->name_off);
    const std::string where = sname + " member '" + name + "'";
    const uint32_t bit_off = btf_member_bit_offset(t, i);
    if (btf_member_bitfield_size(t, i) != 0 || bit_off % 8 != 0) {
      errs.push_back(where + ": a bitfield (not allowed in the ABI)");
      continue;
    }
    const size_t off = bit_off / 8;
    const long long size = btf__resolve_size(b, m->type);
    const auto it = want.find(name);
    if (it == want.end()) {
      errs.push_back(where + " (offset " + std::to_string(off) + ", size " + std::to_string(size) +
                     ") is in the BPF object but not in the C++ table");
      continue;
    }
    const AbiMember& c = *it->second;
    if (off != c.offset) {
      errs.push_back(where + ": offset " + std::to_string(off) + " in BPF, " +
                     std::to_string(c.offset) + " in C++");
    }
    if (size < 0 || static_cast<size_t>(size) != c.size) {
      errs.push_back(where + ": size " + std::to_string(size) + " in BPF, " +
                     std::to_string(c.size) + " in C++");
    }
    want.erase(it);
  }
  for (const auto& [name, c] : want) {
    errs.push_back(sname + " member '" + name + "' (C++ offset " + std::to_string(c->offset) +
                   ") is in the C++ table but not in the BPF object's struct");
  }
  return errs;
}

TEST(Abi, EveryProbeHasItsBuiltObject) {
  const auto probes = Probes();
  ASSERT_FALSE(probes.empty()) << "no bpf/probes/<probe>/<probe>.bpf.c under " << KSIGHT_SOURCE_DIR;
  for (const auto& p : probes) {
    const std::string path = std::string(KSIGHT_BPF_DIR) + "/" + p + ".bpf.o";
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0)
        << path << " is missing: build the BPF objects first (make agent)";
  }
  for (const AbiTable& t : AbiTables()) {
    if (t.probe == kEveryObject) continue;
    EXPECT_TRUE(std::find(probes.begin(), probes.end(), t.probe) != probes.end())
        << "an ABI table names probe '" << t.probe << "', which has no BPF sources";
  }
}

TEST(Abi, EverySharedStructMatchesTheAgent) {
  const auto probes = Probes();
  ASSERT_FALSE(probes.empty());
  for (const auto& probe : probes) {
    SCOPED_TRACE(probe);
    const std::string path = std::string(KSIGHT_BPF_DIR) + "/" + probe + ".bpf.o";
    BtfPtr b(btf__parse(path.c_str(), nullptr), &btf__free);
    if (!b) {
      ADD_FAILURE() << path << ": no BTF (" << std::strerror(errno) << ")";
      continue;
    }
    const auto table = TableFor(probe);
    std::set<std::string> found;
    const uint32_t n = btf__type_cnt(b.get());
    for (uint32_t id = 1; id < n; ++id) {
      const btf_type* t = btf__type_by_id(b.get(), id);
      if (!btf_is_struct(t) && !btf_is_union(t)) continue;
      const std::string name = btf__name_by_offset(b.get(), t->name_off);
      if (name.rfind("ks_", 0) != 0) continue;
      found.insert(name);
      const auto it = table.find(name);
      if (it == table.end()) {
        ADD_FAILURE() << path << ": struct " << name << " (size " << t->size
                      << ") is in the object's BTF but in no ABI table: add it to "
                         "tests/unit/abi/"
                      << probe << "_abi.cc (or drop the ks_ prefix if user space never sees it)";
        continue;
      }
      for (const auto& e : Compare(b.get(), t, *it->second)) ADD_FAILURE() << path << ": " << e;
    }
    for (const auto& [name, s] : table) {
      EXPECT_TRUE(found.count(name))
          << path << ": struct " << name
          << " is in the ABI table but not in the object's BTF, so nothing checks it: "
             "KS_ABI_EXPORT() it in the .bpf.c, or drop it from the table";
    }
  }
}

}  // namespace
}  // namespace ksight::test
