#include "core/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace ksight {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  const size_t left = s.size() - i;
  auto cont = [&](size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

// "00" .. "99": two digits per lookup.
constexpr std::array<char, 200> MakeTwoDigits() {
  std::array<char, 200> d{};
  for (size_t i = 0; i < 100; ++i) {
    d[2 * i] = static_cast<char>('0' + i / 10);
    d[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return d;
}
constexpr std::array<char, 200> kTwoDigits = MakeTwoDigits();

char* Put2(char* p, uint64_t v) {
  std::memcpy(p, kTwoDigits.data() + 2 * v, 2);
  return p + 2;
}

// Writes the 30 bytes of "2026-11-22T03:19:16.123456789Z" to p; returns p past
// them. The date and time of day change once a second and records come in
// time order, so each thread keeps the last second's 20-byte prefix.
char* PutRfc3339(char* p, uint64_t unix_ns) {
  thread_local uint64_t cached_secs = UINT64_MAX;
  thread_local char prefix[20];
  const uint64_t secs = unix_ns / 1000000000ULL;
  if (secs != cached_secs) {
    const auto days = static_cast<int64_t>(secs / 86400);
    const uint64_t sod = secs % 86400;
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, y, m, d);
    const auto yy = static_cast<uint64_t>(y) % 10000;
    char* q = Put2(Put2(prefix, yy / 100), yy % 100);
    *q++ = '-';
    q = Put2(q, m);
    *q++ = '-';
    q = Put2(q, d);
    *q++ = 'T';
    q = Put2(q, sod / 3600);
    *q++ = ':';
    q = Put2(q, sod / 60 % 60);
    *q++ = ':';
    q = Put2(q, sod % 60);
    *q = '.';
    cached_secs = secs;
  }
  std::memcpy(p, prefix, sizeof(prefix));
  p += sizeof(prefix);
  uint64_t n = unix_ns % 1000000000ULL;
  *p++ = static_cast<char>('0' + n / 100000000);
  n %= 100000000;
  p = Put2(p, n / 1000000);
  p = Put2(p, n / 10000 % 100);
  p = Put2(p, n / 100 % 100);
  p = Put2(p, n % 100);
  *p++ = 'Z';
  return p;
}

// Printable ASCII other than '"' and '\\': goes into a JSON string as is.
void Append(std::string& out, const char* begin, const char* end) {
  out.append(begin, static_cast<size_t>(end - begin));
}

constexpr std::array<bool, 256> MakePlain() {
  std::array<bool, 256> ok{};
  for (size_t c = 0x20; c < 0x80; ++c) ok[c] = c != '"' && c != '\\';
  return ok;
}
constexpr std::array<bool, 256> kPlain = MakePlain();

bool Plain(std::string_view s) {
  bool ok = true;
  for (const char ch : s) ok &= kPlain[static_cast<unsigned char>(ch)];
  return ok;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const size_t n = Utf8SeqLen(s, i);
      if (n) {
        i += n;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out.append(esc, 6);
        } else {
          out.append("\\ufffd");  // invalid UTF-8 byte
        }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void AppendRfc3339Nanos(std::string& out, uint64_t unix_ns) {
  char buf[32];
  const char* end = PutRfc3339(buf, unix_ns);
  Append(out, buf, end);
}

void JsonWriter::Flush() {
  if (pos_) out_.append(scratch_, pos_);
  pos_ = 0;
}

char* JsonWriter::Room(size_t n) {
  if (pos_ + n > kScratch) Flush();
  return scratch_ + pos_;
}

void JsonWriter::Commit(char* p) {
  pos_ = static_cast<size_t>(p - scratch_);
  if (depth_ <= 0) Flush();  // a complete top-level value: the caller may read the buffer now
}

char* JsonWriter::PutSeparator(char* p) {
  if (after_key_) {
    after_key_ = false;
    return p;
  }
  if (depth_ > 0) {
    const uint64_t bit = 1ULL << (depth_ & 63);
    if (need_comma_ & bit) *p++ = ',';
    need_comma_ |= bit;
  }
  return p;
}

void JsonWriter::Separate() {
  char* p = Room(1);
  pos_ = static_cast<size_t>(PutSeparator(p) - scratch_);
}

char* JsonWriter::PutKey(char* p, std::string_view k) {
  p = PutSeparator(p);
  *p++ = '"';
  std::memcpy(p, k.data(), k.size());
  p += k.size();
  *p++ = '"';
  *p++ = ':';
  return p;
}

char* JsonWriter::PutPlainString(char* p, std::string_view v) {
  *p++ = '"';
  std::memcpy(p, v.data(), v.size());
  p += v.size();
  *p++ = '"';
  return p;
}

void JsonWriter::General(std::string_view v) {
  Separate();
  Flush();
  AppendJsonString(out_, v);
}

JsonWriter& JsonWriter::BeginObject() {
  char* p = PutSeparator(Room(2));
  *p++ = '{';
  ++depth_;
  need_comma_ &= ~(1ULL << (depth_ & 63));
  Commit(p);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  char* p = Room(1);
  *p++ = '}';
  --depth_;
  Commit(p);
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  char* p = PutSeparator(Room(2));
  *p++ = '[';
  ++depth_;
  need_comma_ &= ~(1ULL << (depth_ & 63));
  Commit(p);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  char* p = Room(1);
  *p++ = ']';
  --depth_;
  Commit(p);
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view k) {
  if (k.size() <= kShort && Plain(k)) {
    Commit(PutKey(Room(kShort + 4), k));
  } else {
    General(k);
    out_.push_back(':');
  }
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::KVUint(std::string_view k, uint64_t v) {
  if (k.size() > kShort || !Plain(k)) return Key(k).Uint(v);
  char* p = PutKey(Room(kShort + 4 + 24), k);
  Commit(std::to_chars(p, p + 24, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::KVInt(std::string_view k, int64_t v) {
  if (k.size() > kShort || !Plain(k)) return Key(k).Int(v);
  char* p = PutKey(Room(kShort + 4 + 24), k);
  Commit(std::to_chars(p, p + 24, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::KV(std::string_view k, std::string_view v) {
  if (k.size() > kShort || v.size() > kShort || !Plain(k) || !Plain(v)) return Key(k).String(v);
  char* p = PutKey(Room(2 * kShort + 8), k);
  Commit(PutPlainString(p, v));
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view v) {
  if (v.size() > kShort || !Plain(v)) {
    General(v);
  } else {
    Commit(PutPlainString(PutSeparator(Room(kShort + 3)), v));
  }
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  char* p = PutSeparator(Room(1 + 24));
  Commit(std::to_chars(p, p + 24, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  char* p = PutSeparator(Room(1 + 24));
  Commit(std::to_chars(p, p + 24, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  if (!std::isfinite(v)) return Null();
  char* p = PutSeparator(Room(1 + 32));
  Commit(std::to_chars(p, p + 32, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) { return Raw(v ? "true" : "false"); }

JsonWriter& JsonWriter::Null() { return Raw("null"); }

JsonWriter& JsonWriter::Raw(std::string_view json) {
  Separate();
  if (json.size() <= kShort) {
    char* p = Room(kShort);
    std::memcpy(p, json.data(), json.size());
    Commit(p + json.size());
  } else {
    Flush();
    out_.append(json);
  }
  return *this;
}

JsonWriter& JsonWriter::Rfc3339(uint64_t unix_ns) {
  char* p = PutSeparator(Room(1 + 32));
  *p++ = '"';
  p = PutRfc3339(p, unix_ns);
  *p++ = '"';
  Commit(p);
  return *this;
}

}  // namespace ksight
