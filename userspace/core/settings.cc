#include "core/settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cstdlib>

#include "core/config.h"

namespace ksight {
namespace {

using Nanos = std::chrono::nanoseconds;

bool IsList(SettingKind k) {
  return k == SettingKind::kPaths || k == SettingKind::kStrings || k == SettingKind::kUints ||
         k == SettingKind::kIdsOrPaths;
}

Result<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    return Status::Error(fmt::format("'{}' is not a non-negative integer", s));
  return v;
}

std::vector<std::string_view> SplitCommas(std::string_view s) {
  std::vector<std::string_view> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string_view::npos ? s.npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// One element (or a scalar) given as text.
Result<SettingValue> ParseScalar(SettingKind kind, std::string_view text) {
  switch (kind) {
    case SettingKind::kDuration: {
      auto d = ParseDuration(text);
      if (!d) return d.status();
      return SettingValue(*d);
    }
    case SettingKind::kSize: {
      auto s = ParseSize(text);
      if (!s) return s.status();
      return SettingValue(*s);
    }
    case SettingKind::kUint:
    case SettingKind::kUints: {
      auto u = ParseUint(text);
      if (!u) return u.status();
      return SettingValue(*u);
    }
    case SettingKind::kMode: {
      auto m = ParseFileMode(text);
      if (!m) return m.status();
      return SettingValue(uint64_t{*m});
    }
    default:
      return SettingValue(std::string(text));
  }
}

}  // namespace

const SettingValue* SectionValues::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const SettingValue& SectionValues::At(std::string_view key) const {
  const SettingValue* v = Find(key);
  if (!v) {
    // A probe read a key its module does not declare: a programming error, caught by the
    // probe's first test run. Not an exception: the daemon never throws.
    fmt::print(stderr, "ksight: internal error: setting '{}' is not declared\n", key);
    std::abort();
  }
  return *v;
}

Nanos SectionValues::Duration(std::string_view key) const { return std::get<Nanos>(At(key)); }
uint64_t SectionValues::Uint(std::string_view key) const { return std::get<uint64_t>(At(key)); }
const std::string& SectionValues::String(std::string_view key) const {
  return std::get<std::string>(At(key));
}
const std::vector<std::string>& SectionValues::Strings(std::string_view key) const {
  return std::get<std::vector<std::string>>(At(key));
}
const std::vector<uint64_t>& SectionValues::Uints(std::string_view key) const {
  return std::get<std::vector<uint64_t>>(At(key));
}

Result<SettingValue> ParseSettingTexts(const SettingDef& def, const std::vector<std::string>& v) {
  if (!IsList(def.kind)) {
    if (v.size() != 1) return Status::Error("takes exactly one value");
    return ParseSettingText(def, v.front());
  }
  if (def.kind == SettingKind::kUints) {
    std::vector<uint64_t> out;
    for (const auto& s : v) {
      auto e = ParseScalar(def.kind, s);
      if (!e) return e.status();
      out.push_back(std::get<uint64_t>(*e));
    }
    return SettingValue(std::move(out));
  }
  return SettingValue(std::vector<std::string>(v.begin(), v.end()));
}

Result<SettingValue> ParseSettingText(const SettingDef& def, std::string_view text) {
  if (!IsList(def.kind)) return ParseScalar(def.kind, text);
  std::vector<std::string> parts;
  for (auto p : SplitCommas(text)) parts.emplace_back(p);
  return ParseSettingTexts(def, parts);
}

Status CheckSetting(const SettingDef& def, const SettingValue& v) {
  const auto range = [&](uint64_t x, std::string_view shown) -> Status {
    if (x < def.min || x > def.max) {
      if (def.kind == SettingKind::kDuration) {
        return Status::Error(fmt::format("{} must be between {} and {}", shown,
                                         FormatDuration(Nanos(def.min)),
                                         FormatDuration(Nanos(def.max))));
      }
      if (def.max == UINT64_MAX)
        return Status::Error(fmt::format("{} must be at least {}", shown, def.min));
      return Status::Error(fmt::format("{} must be between {} and {}", shown, def.min, def.max));
    }
    return {};
  };
  if (const auto* d = std::get_if<Nanos>(&v)) {
    if (d->count() < 0) return Status::Error("must not be negative");
    KS_RETURN_IF_ERROR(range(static_cast<uint64_t>(d->count()), FormatDuration(*d)));
  } else if (const auto* u = std::get_if<uint64_t>(&v)) {
    KS_RETURN_IF_ERROR(
        range(*u, def.kind == SettingKind::kMode ? fmt::format("{:04o}", *u) : std::to_string(*u)));
  } else if (const auto* l = std::get_if<std::vector<uint64_t>>(&v)) {
    for (uint64_t x : *l) KS_RETURN_IF_ERROR(range(x, std::to_string(x)));
  }
  if (def.check) return def.check(v);
  return {};
}

std::string SettingToText(const SettingDef& def, const SettingValue& v) {
  if (const auto* d = std::get_if<Nanos>(&v)) return FormatDuration(*d);
  if (const auto* u = std::get_if<uint64_t>(&v)) {
    if (def.kind == SettingKind::kMode) return fmt::format("{:04o}", *u);
    return std::to_string(*u);
  }
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* l = std::get_if<std::vector<std::string>>(&v))
    return fmt::format("[{}]", fmt::join(*l, ", "));
  return fmt::format("[{}]", fmt::join(std::get<std::vector<uint64_t>>(v), ", "));
}

namespace {
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string FormatSize(uint64_t b) {
  if (b == 0) return "0";
  if (b % (1ULL << 30) == 0) return fmt::format("\"{}GiB\"", b >> 30);
  if (b % (1ULL << 20) == 0) return fmt::format("\"{}MiB\"", b >> 20);
  if (b % (1ULL << 10) == 0) return fmt::format("\"{}KiB\"", b >> 10);
  return std::to_string(b);
}
}  // namespace

std::string SettingToToml(const SettingDef& def, const SettingValue& v) {
  switch (def.kind) {
    case SettingKind::kDuration: {
      const Nanos d = std::get<Nanos>(v);
      return d.count() == 0 ? "0" : TomlString(FormatDuration(d));
    }
    case SettingKind::kSize:
      return FormatSize(std::get<uint64_t>(v));
    case SettingKind::kUint:
      return std::to_string(std::get<uint64_t>(v));
    case SettingKind::kMode:
      return TomlString(fmt::format("{:04o}", std::get<uint64_t>(v)));
    case SettingKind::kString:
      return TomlString(std::get<std::string>(v));
    case SettingKind::kPaths: {
      const auto& l = std::get<std::vector<std::string>>(v);
      if (l.size() == 1) return TomlString(l.front());
      [[fallthrough]];
    }
    case SettingKind::kStrings:
    case SettingKind::kIdsOrPaths: {
      std::string out = "[";
      for (const auto& s : std::get<std::vector<std::string>>(v))
        out += (out.size() > 1 ? ", " : "") + TomlString(s);
      return out + "]";
    }
    case SettingKind::kUints:
      return fmt::format("[{}]", fmt::join(std::get<std::vector<uint64_t>>(v), ", "));
  }
  return "";
}

SettingValue SettingDefault(const SettingDef& def) {
  auto v = ParseSettingText(def, def.default_value);
  if (!v) {
    // A declaration error (the unit tests parse every default): never in a release.
    fmt::print(stderr, "ksight: internal error: default of '{}': {}\n", def.key,
               v.status().message());
    std::abort();
  }
  return std::move(v.value());
}

std::string SettingName(const SettingSection& s, const SettingDef& d) {
  return s.name.empty() ? std::string(d.key) : fmt::format("{}.{}", s.name, d.key);
}

}  // namespace ksight
