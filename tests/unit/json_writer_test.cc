#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ksight {
namespace {

std::string Str(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(JsonString, EscapesQuotesBackslashAndControls) {
  EXPECT_EQ(Str("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Str("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(Str(std::string_view("\x01\x1f\0", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(Str("\x7f"), "\"\x7f\"");  // DEL is valid JSON as is
}

TEST(JsonString, KeepsValidUtf8) {
  EXPECT_EQ(Str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST(JsonString, ReplacesInvalidUtf8) {
  EXPECT_EQ(Str("a\xff"
                "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Str("\xc3"), R"("\ufffd")");                                // truncated 2-byte sequence
  EXPECT_EQ(Str("\xc0\xaf"), R"("\ufffd\ufffd")");                      // overlong
  EXPECT_EQ(Str("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // surrogate
  EXPECT_EQ(Str("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
  EXPECT_EQ(Str("\xe2\x82"), R"("\ufffd\ufffd")");                      // truncated 3-byte sequence
}

TEST(Rfc3339, FormatsNanosecondsUtc) {
  std::string s;
  AppendRfc3339Nanos(s, 0);
  EXPECT_EQ(s, "1970-01-01T00:00:00.000000000Z");
  s.clear();
  AppendRfc3339Nanos(s, 1795324756123456789ULL);
  EXPECT_EQ(s, "2026-11-22T05:19:16.123456789Z");  // date -u -d @1795324756
  s.clear();
  AppendRfc3339Nanos(s, 951782400000000001ULL);  // leap day 2000
  EXPECT_EQ(s, "2000-02-29T00:00:00.000000001Z");
}

TEST(Rfc3339, PerSecondCacheFollowsTimesOutOfOrder) {
  // The date and time of day are cached per second: going back and forth
  // between seconds (and days) must never reuse the wrong prefix.
  const uint64_t t = 1795324756123456789ULL;
  for (const auto& [ns, want] : std::vector<std::pair<uint64_t, std::string>>{
           {t, "2026-11-22T05:19:16.123456789Z"},
           {t + 999999999ULL, "2026-11-22T05:19:17.123456788Z"},
           {t - 86400000000000ULL, "2026-11-21T05:19:16.123456789Z"},
           {t + 1ULL, "2026-11-22T05:19:16.123456790Z"},
       }) {
    std::string s;
    AppendRfc3339Nanos(s, ns);
    EXPECT_EQ(s, want);
  }
}

TEST(JsonWriter, NestsWithCommas) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().KV("a", uint64_t{1}).KV("b", int64_t{-2}).KObject("c");
  w.KV("d", true).KArray("e").Uint(1).Uint(2).BeginObject().EndObject().EndArray();
  w.EndObject().KV("f", "x").Key("g").Null().KV("h", 0.5).EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":-2,"c":{"d":true,"e":[1,2,{}]},"f":"x","g":null,"h":0.5})");
}

TEST(JsonWriter, NumbersAtTheLimits) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray().Uint(UINT64_MAX).Int(INT64_MIN).Double(1.0 / 0.0).EndArray();
  EXPECT_EQ(out, "[18446744073709551615,-9223372036854775808,null]");
}

TEST(JsonWriter, ReusesBufferAfterReset) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().KV("a", uint64_t{1}).EndObject();
  out.clear();
  w.Reset();
  w.BeginObject().KV("b", uint64_t{2}).EndObject();
  EXPECT_EQ(out, R"({"b":2})");
}

// The writer assembles members in a 1 KiB scratch array: records longer than
// that, and members that take the escaping path in between short ones, must
// come out whole and in order.
TEST(JsonWriter, LongRecordsSpillTheScratchInOrder) {
  std::string out, want = "{";
  JsonWriter w(out);
  w.BeginObject();
  for (uint64_t i = 0; i < 300; ++i) {
    const std::string k = "member_" + std::to_string(i);
    w.KV(k, i * 1000003);
    want += (i ? ",\"" : "\"") + k + "\":" + std::to_string(i * 1000003);
  }
  w.EndObject();
  want += "}";
  EXPECT_GT(out.size(), 4096u);
  EXPECT_EQ(out, want);
}

TEST(JsonWriter, EscapedAndLongMembersKeepTheirPlace) {
  std::string out;
  JsonWriter w(out);
  const std::string long_plain(100, 'x');
  const std::string long_raw = "[" + std::string(70, '1') + "]";
  w.BeginObject().KV("a", "b").KV("q\"k", "v").KV("c", long_plain).KV("d", "tab\there");
  w.Key("e").Raw(long_raw).Key("f").String("\xff").KV("g", int64_t{-1}).EndObject();
  EXPECT_EQ(out, "{\"a\":\"b\",\"q\\\"k\":\"v\",\"c\":\"" + long_plain +
                     "\",\"d\":\"tab\\there\",\"e\":" + long_raw + ",\"f\":\"\\ufffd\",\"g\":-1}");
}

TEST(JsonWriter, BufferIsCompleteAtTopLevelAndAfterFlush) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().KV("a", uint64_t{1});
  w.Flush();
  EXPECT_EQ(out, R"({"a":1)");
  w.KV("b", "c");
  EXPECT_EQ(w.buffer(), R"({"a":1,"b":"c")");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":"c"})");
  w.Reset();
  w.Uint(7);  // a top-level scalar is complete at once
  EXPECT_EQ(out, R"({"a":1,"b":"c"}7)");
}

}  // namespace
}  // namespace ksight
