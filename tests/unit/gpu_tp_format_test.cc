// Unit tests for the gpu probe's tracefs format reader (probes/gpu/gpu_tp_format.h), on the
// format files of the kernels of the compatibility matrix (captured in the tests/vm guests:
// Debian 5.10.0-32, 6.1.0-50, 6.12.107, 7.2.13) and the NVIDIA driver's tracepoint layout
// (kernel-open/nvidia/nv-tracepoint.h, 575.51.02+).
#include "probes/gpu/gpu_tp_format.h"

#include <gtest/gtest.h>

namespace ksight::gpu {
namespace {

constexpr const char* kCommon =
    R"(	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

)";

std::string Fmt(const char* name, const char* fields, const char* print = "") {
  return std::string("name: ") + name + "\nID: 1234\nformat:\n" + kCommon + fields +
         "\nprint fmt: \"" + print + "\"\n";
}

// 5.10: the ring name is a pointer, the fence a pointer to the job's finished fence.
const std::string k510Job =
    Fmt("drm_sched_job",
        R"(	field:struct drm_sched_entity * entity;	offset:8;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:16;	size:8;	signed:0;
	field:const char * name;	offset:24;	size:8;	signed:0;
	field:uint64_t id;	offset:32;	size:8;	signed:0;
	field:u32 job_count;	offset:40;	size:4;	signed:0;
	field:int hw_job_count;	offset:44;	size:4;	signed:1;
)");
const std::string k510Done =
    Fmt("drm_sched_process_job",
        R"(	field:struct dma_fence * fence;	offset:8;	size:8;	signed:0;
)");
const std::string k510WaitDep =
    Fmt("drm_sched_job_wait_dep",
        R"(	field:const char * name;	offset:8;	size:8;	signed:0;
	field:uint64_t id;	offset:16;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:24;	size:8;	signed:0;
	field:uint64_t ctx;	offset:32;	size:8;	signed:0;
	field:unsigned seqno;	offset:40;	size:4;	signed:0;
)");
// 6.1 and 6.12: the same with name as __data_loc.
const std::string k612Job =
    Fmt("drm_sched_job",
        R"(	field:struct drm_sched_entity * entity;	offset:8;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:16;	size:8;	signed:0;
	field:__data_loc char[] name;	offset:24;	size:4;	signed:0;
	field:uint64_t id;	offset:32;	size:8;	signed:0;
	field:u32 job_count;	offset:40;	size:4;	signed:0;
	field:int hw_job_count;	offset:44;	size:4;	signed:1;
)");
// 7.2: fence context and seqno as values, plus dev and client_id.
const std::string k72Queue = Fmt(
    "drm_sched_job_queue", R"(	field:__data_loc char[] name;	offset:8;	size:4;	signed:0;
	field:u32 job_count;	offset:12;	size:4;	signed:0;
	field:int hw_job_count;	offset:16;	size:4;	signed:1;
	field:__data_loc char[] dev;	offset:20;	size:4;	signed:0;
	field:u64 fence_context;	offset:24;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:32;	size:8;	signed:0;
	field:u64 client_id;	offset:40;	size:8;	signed:0;
)");
const std::string k72Done =
    Fmt("drm_sched_job_done",
        R"(	field:u64 fence_context;	offset:8;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:16;	size:8;	signed:0;
)");
const std::string k72AddDep =
    Fmt("drm_sched_job_add_dep",
        R"(	field:u64 fence_context;	offset:8;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:16;	size:8;	signed:0;
	field:u64 ctx;	offset:24;	size:8;	signed:0;
	field:u64 seqno;	offset:32;	size:8;	signed:0;
)");
// nvidia:nvidia_dev_xid: __string(dev), __field(u32, error_code), __string(msg).
const std::string kNvXid =
    Fmt("nvidia_dev_xid", R"(	field:__data_loc char[] dev;	offset:8;	size:4;	signed:0;
	field:u32 error_code;	offset:12;	size:4;	signed:0;
	field:__data_loc char[] msg;	offset:16;	size:4;	signed:0;
)");

constexpr uint16_t N = KS_GPU_OFF_NONE;

TEST(GpuTpFormat, ParsesFieldsWithTypesOffsetsAndSizes) {
  const auto f = ParseTpFormat(k510Job);
  ASSERT_EQ(f.size(), 10u);
  EXPECT_EQ(f[0].name, "common_type");
  const TpField* name = FindField(f, "name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->type, "const char *");
  EXPECT_TRUE(name->pointer());
  EXPECT_FALSE(name->data_loc());
  EXPECT_EQ(name->offset, 24u);
  EXPECT_EQ(name->size, 8u);
  const TpField* hw = FindField(f, "hw_job_count");
  ASSERT_NE(hw, nullptr);
  EXPECT_TRUE(hw->is_signed);
  EXPECT_EQ(hw->type, "int");

  const auto g = ParseTpFormat(k72Queue);
  const TpField* dev = FindField(g, "dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_TRUE(dev->data_loc());
  EXPECT_EQ(dev->type, "__data_loc char[]");
  EXPECT_EQ(dev->offset, 20u);
}

TEST(GpuTpFormat, ArrayFieldsKeepTheirNames) {
  const auto f =
      ParseTpFormat(Fmt("x", "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"));
  const TpField* c = FindField(f, "comm");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->type, "char[16]");
  EXPECT_EQ(c->size, 16u);
}

TEST(GpuTpFormat, GarbageGivesNoFields) {
  EXPECT_TRUE(ParseTpFormat("").empty());
  EXPECT_TRUE(ParseTpFormat("field:\nfield:int;\nfield:int x; offset:zz; size:4;\n").empty());
}

TEST(GpuTpFormat, SchedLayout510) {
  const auto f = ParseTpFormat(k510Job);
  auto l = SchedLayoutFromFormat(f, KS_GPU_JOB_QUEUE);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->fence_ptr, 16);
  EXPECT_EQ(l->fence_ctx, N);
  EXPECT_EQ(l->name, 24);
  EXPECT_EQ(l->name_kind, KS_GPU_STR_PTR);
  EXPECT_EQ(l->dev, N);
  EXPECT_EQ(l->job_count, 40);
  EXPECT_EQ(l->hw_job_count, 44);
  EXPECT_EQ(l->client_id, N);

  auto d = SchedLayoutFromFormat(ParseTpFormat(k510Done), KS_GPU_JOB_DONE);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->fence_ptr, 8);
  EXPECT_EQ(d->name, N);

  // wait_dep names the dependency's fence and the job's id only: never paired.
  auto w = SchedLayoutFromFormat(ParseTpFormat(k510WaitDep), KS_GPU_JOB_DEP);
  EXPECT_FALSE(w.ok());
}

TEST(GpuTpFormat, SchedLayout612) {
  auto l = SchedLayoutFromFormat(ParseTpFormat(k612Job), KS_GPU_JOB_RUN);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->fence_ptr, 16);
  EXPECT_EQ(l->name, 24);
  EXPECT_EQ(l->name_kind, KS_GPU_STR_DATA_LOC);
  EXPECT_EQ(l->job_count, 40);
}

TEST(GpuTpFormat, SchedLayout72) {
  auto q = SchedLayoutFromFormat(ParseTpFormat(k72Queue), KS_GPU_JOB_QUEUE);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->fence_ptr, N);
  EXPECT_EQ(q->fence_ctx, 24);
  EXPECT_EQ(q->fence_seqno, 32);
  EXPECT_EQ(q->name, 8);
  EXPECT_EQ(q->name_kind, KS_GPU_STR_DATA_LOC);
  EXPECT_EQ(q->dev, 20);
  EXPECT_EQ(q->job_count, 12);
  EXPECT_EQ(q->hw_job_count, 16);
  EXPECT_EQ(q->client_id, 40);

  auto d = SchedLayoutFromFormat(ParseTpFormat(k72Done), KS_GPU_JOB_DONE);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->fence_ctx, 8);
  EXPECT_EQ(d->fence_seqno, 16);

  auto dep = SchedLayoutFromFormat(ParseTpFormat(k72AddDep), KS_GPU_JOB_DEP);
  ASSERT_TRUE(dep.ok()) << dep.status().message();
  EXPECT_EQ(dep->fence_ctx, 8);
  EXPECT_EQ(dep->fence_seqno, 16);
  EXPECT_EQ(dep->dep_ctx, 24);
  EXPECT_EQ(dep->dep_seqno, 32);
}

TEST(GpuTpFormat, SchedLayoutWithoutAFenceIsRefused) {
  auto l = SchedLayoutFromFormat(
      ParseTpFormat(
          Fmt("drm_sched_job", "\tfield:u32 job_count;\toffset:8;\tsize:4;\tsigned:0;\n")),
      KS_GPU_JOB_QUEUE);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("no job fence"), std::string::npos);
  // A fence_context of the wrong size is not trusted either.
  auto m = SchedLayoutFromFormat(
      ParseTpFormat(Fmt("drm_sched_job_done",
                        "\tfield:u32 fence_context;\toffset:8;\tsize:4;\tsigned:0;\n"
                        "\tfield:u64 fence_seqno;\toffset:16;\tsize:8;\tsigned:0;\n")),
      KS_GPU_JOB_DONE);
  EXPECT_FALSE(m.ok());
}

TEST(GpuTpFormat, XidLayout) {
  auto l = XidLayoutFromFormat(ParseTpFormat(kNvXid));
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->dev, 8);
  EXPECT_EQ(l->error_code, 12);
  EXPECT_EQ(l->msg, 16);
  // A driver that changed the layout (msg as a plain array) is refused with a reason.
  auto bad = XidLayoutFromFormat(ParseTpFormat(Fmt(
      "nvidia_dev_xid", R"(	field:__data_loc char[] dev;	offset:8;	size:4;	signed:0;
	field:u32 error_code;	offset:12;	size:4;	signed:0;
	field:char msg[64];	offset:16;	size:64;	signed:0;
)")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("msg"), std::string::npos);
}

TEST(GpuTpFormat, EmptyLayoutHasNoField) {
  const ks_gpu_sched_layout l = EmptySchedLayout();
  EXPECT_EQ(l.fence_ptr, N);
  EXPECT_EQ(l.fence_ctx, N);
  EXPECT_EQ(l.fence_seqno, N);
  EXPECT_EQ(l.name, N);
  EXPECT_EQ(l.name_kind, KS_GPU_STR_NONE);
  EXPECT_EQ(l.dev, N);
  EXPECT_EQ(l.job_count, N);
  EXPECT_EQ(l.hw_job_count, N);
  EXPECT_EQ(l.dep_ctx, N);
  EXPECT_EQ(l.dep_seqno, N);
  EXPECT_EQ(l.client_id, N);
}

}  // namespace
}  // namespace ksight::gpu
