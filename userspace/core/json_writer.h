// json_writer.h - a small, fast JSON writer that appends to a reusable
// std::string. No iostreams, no per-event allocation once the buffer has
// grown. Strings are escaped per RFC 8259; control bytes become \u00XX and
// invalid UTF-8 becomes U+FFFD, so any kernel string (comm, paths) yields
// valid JSON.
//
// Speed (the streaming path formats ~40 members per record): members are
// written into a small scratch array inside the writer, which is appended to
// the buffer in one call when a top-level value is complete (its closing
// brace), when it fills, or on Flush(). A key or string that is short and
// needs no escaping is copied as is; anything else takes the general,
// escaping path. The output is the same either way. Read the buffer only
// between top-level values, or after Flush().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ksight {

// Append s as a JSON string literal (with quotes).
void AppendJsonString(std::string& out, std::string_view s);
// Append "2026-11-22T03:19:16.123456789Z" for nanoseconds since the Unix epoch.
void AppendRfc3339Nanos(std::string& out, uint64_t unix_ns);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Key of the next member; the key is escaped like any string.
  JsonWriter& Key(std::string_view k);

  JsonWriter& String(std::string_view v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);  // NaN/Inf become null
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A JSON value already formatted (trusted, e.g. a fixed literal).
  JsonWriter& Raw(std::string_view json);
  JsonWriter& Rfc3339(uint64_t unix_ns);

  // key + value shorthands.
  JsonWriter& KV(std::string_view k, std::string_view v);
  JsonWriter& KV(std::string_view k, const char* v) { return KV(k, std::string_view(v)); }
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) JsonWriter& KV(std::string_view k,
                                                                             T v) {
    if constexpr (std::is_signed_v<T>) {
      return KVInt(k, static_cast<int64_t>(v));
    } else {
      return KVUint(k, static_cast<uint64_t>(v));
    }
  }
  JsonWriter& KV(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& KV(std::string_view k, bool v) { return Key(k).Bool(v); }
  JsonWriter& KObject(std::string_view k) { return Key(k).BeginObject(); }
  JsonWriter& KArray(std::string_view k) { return Key(k).BeginArray(); }

  int depth() const { return depth_; }
  // Append what is pending in the scratch array to the buffer.
  void Flush();
  std::string& buffer() {
    Flush();
    return out_;
  }
  // Forget nesting state and anything not yet flushed (after the caller
  // truncated the buffer).
  void Reset() { depth_ = 0, need_comma_ = 0, after_key_ = false, pos_ = 0; }

 private:
  // Longest key or string the copy-as-is path takes; scratch array size.
  static constexpr size_t kShort = 64;
  static constexpr size_t kScratch = 1024;
  // Room for n more bytes in the scratch array (flushing it first if needed).
  char* Room(size_t n);
  // The scratch array now ends at p; a finished top-level value is flushed.
  void Commit(char* p);
  // Separator, then v escaped, straight into the buffer.
  void General(std::string_view v);
  static char* PutPlainString(char* p, std::string_view v);
  JsonWriter& KVUint(std::string_view k, uint64_t v);
  JsonWriter& KVInt(std::string_view k, int64_t v);
  void Separate();
  // Separator (if any) into p; returns p past it. Updates the nesting state.
  char* PutSeparator(char* p);
  // Separator and "k": into p (k short and plain); returns p past it.
  char* PutKey(char* p, std::string_view k);
  std::string& out_;
  int depth_ = 0;
  uint64_t need_comma_ = 0;  // bit per nesting level
  bool after_key_ = false;
  size_t pos_ = 0;
  char scratch_[kScratch];
};

}  // namespace ksight
