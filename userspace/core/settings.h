// settings.h - one declaration per setting: its config-file key, its flag, its default, its
// checks and whether a running agent applies a change (SIGHUP) or keeps it until a restart.
//
// The core's settings (config.cc) and every probe's section (ProbeModule::settings) are
// declared with SettingDef. Everything generic is driven by these tables: reading the TOML
// file, the `ksight run` flags, `ksight config default`, validation and the SIGHUP reload's
// "applied" / "restart_needed" lists. A key that is not declared does not exist, so a new key
// cannot be parsed without also saying how a reload treats it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace ksight {

struct Config;

enum class SettingKind : uint8_t {
  kDuration,    // "10s", "100ms" (or 0)
  kSize,        // "4MiB", 1048576
  kUint,        // 42
  kMode,        // "0640" (octal)
  kString,      // "text"
  kPaths,       // "path" or ["path", ...] (a string is a one-element list)
  kStrings,     // ["a", "b"]
  kUints,       // [1, 2]
  kIdsOrPaths,  // ["/sys/fs/cgroup/x", 1234]: strings or integers, kept as strings
};

// The value of a setting: Nanos for durations, uint64_t for sizes/numbers/modes, a string,
// or a list (uint64_t elements for kUints).
using SettingValue = std::variant<std::chrono::nanoseconds, uint64_t, std::string,
                                  std::vector<std::string>, std::vector<uint64_t>>;

// When a changed value takes effect in a running agent.
enum class SettingApply : uint8_t {
  kRestart,  // the probes or the agent were built with it: kept until the next start
  kReload,   // SIGHUP applies it
};

struct SettingDef {
  std::string_view key;            // the key inside its section, e.g. "slow"
  SettingKind kind;                //
  std::string_view default_value;  // as a flag would take it ("100ms", "a,b", "" = empty list)
  std::string_view help;           // comment above the key in `ksight config default`
  std::string_view flag = {};      // "--slow" ("" = config file only)
  std::string_view flag_help = {};
  SettingApply apply = SettingApply::kRestart;
  // Bounds of a number, a size, a duration (ns) or of each list element (kUints).
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
  // Extra validation of one value (e.g. errno names); the message is prefixed with the key.
  Status (*check)(const SettingValue& v) = nullptr;
  // Lists given as flags: split "a,b" into two values (repeating the flag always adds).
  bool split_commas = false;
  // What a list holds, for messages: "process ids" -> "filter.pid must be an array of process ids".
  std::string_view items = {};
  // Core settings live in typed Config fields (see config.cc); probe settings in
  // Config::sections. Set for core settings only.
  SettingValue (*get)(const Config&) = nullptr;
  void (*set)(Config&, const SettingValue&) = nullptr;
};

// A probe's settings, by key, always complete (defaults filled in): what Probe::Start reads.
class SectionValues {
 public:
  std::chrono::nanoseconds Duration(std::string_view key) const;
  uint64_t Uint(std::string_view key) const;
  const std::string& String(std::string_view key) const;
  const std::vector<std::string>& Strings(std::string_view key) const;
  const std::vector<uint64_t>& Uints(std::string_view key) const;

  const SettingValue* Find(std::string_view key) const;
  void Set(std::string_view key, SettingValue v) { values_[std::string(key)] = std::move(v); }
  bool operator==(const SectionValues&) const = default;

 private:
  const SettingValue& At(std::string_view key) const;
  std::map<std::string, SettingValue, std::less<>> values_;
};

// A table of settings: "" for the top level, "output", "filter", or a probe's name.
struct SettingSection {
  std::string_view name;
  std::string_view help;  // comment above [name] in `ksight config default`
  std::span<const SettingDef> keys;
  // Checks across keys of the section, after file and flags are merged (may be null).
  Status (*validate)(const SectionValues& v) = nullptr;
};

// Parse a value given as text (a flag, or a default): one line of error on bad input.
Result<SettingValue> ParseSettingText(const SettingDef& def, std::string_view text);
// Parse several flag values of a list setting (each may hold "a,b" when split_commas).
Result<SettingValue> ParseSettingTexts(const SettingDef& def, const std::vector<std::string>& v);
// The bounds and the extra check of a value.
Status CheckSetting(const SettingDef& def, const SettingValue& v);
// A value as the TOML literal `ksight config default` writes.
std::string SettingToToml(const SettingDef& def, const SettingValue& v);
// A value for messages ("100ms", "[a, b]").
std::string SettingToText(const SettingDef& def, const SettingValue& v);
// The default value of a setting (the declarations are checked by the unit tests).
SettingValue SettingDefault(const SettingDef& def);

// "section.key" (or "key" at the top level).
std::string SettingName(const SettingSection& s, const SettingDef& d);

}  // namespace ksight
