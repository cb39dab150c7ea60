// Unit tests for the gpu probe's job assembly from KS_REC_GPU_JOB ring records
// (probes/gpu/gpu_jobs.h): the records as the BPF programs fill them, on the sequences the
// scheduler produces (queue -> dependencies -> run -> done, interleaved across rings).
#include "probes/gpu/gpu_jobs.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ksight::gpu {
namespace {

ks_gpu_job_rec Rec(ks_gpu_job_phase phase, uint64_t ts, uint64_t ctx, uint64_t seqno) {
  ks_gpu_job_rec r{};
  r.hdr.type = KS_REC_GPU_JOB;
  r.hdr.size = sizeof(r);
  r.hdr.ts_ns = ts;
  r.phase = phase;
  r.fence_ctx = ctx;
  r.fence_seqno = seqno;
  r.hw_job_count = -1;
  return r;
}

ks_gpu_job_rec Queue(uint64_t ts, uint64_t ctx, uint64_t seqno, const char* ring) {
  ks_gpu_job_rec r = Rec(KS_GPU_JOB_QUEUE, ts, ctx, seqno);
  std::strncpy(r.ring, ring, sizeof(r.ring) - 1);
  std::strcpy(r.dev, "0000:03:00.0");
  std::strcpy(r.driver, "amdgpu");
  r.task.pid = 4242;
  r.task.tid = 4243;
  std::strcpy(r.task.comm, "python3");
  r.job_count = 1;
  r.hw_job_count = 2;
  r.client_id = 17;
  return r;
}

TEST(GpuJobs, QueueDepsRunDoneIsOneJobWithExtras) {
  JobAssembler a;
  EXPECT_FALSE(a.OnRecord(Queue(1000, 7, 1, "gfx_0.0.0")));
  ks_gpu_job_rec dep = Rec(KS_GPU_JOB_DEP, 1100, 7, 1);
  dep.dep_ctx = 3;
  dep.dep_seqno = 99;
  EXPECT_FALSE(a.OnRecord(dep));
  EXPECT_FALSE(a.OnRecord(dep));
  EXPECT_FALSE(a.OnRecord(Rec(KS_GPU_JOB_RUN, 1500, 7, 1)));
  auto j = a.OnRecord(Rec(KS_GPU_JOB_DONE, 4500, 7, 1));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->record.ring, "gfx_0.0.0");
  EXPECT_EQ(j->record.device, "0000:03:00.0");
  EXPECT_EQ(j->record.fence_ctx, 7u);
  EXPECT_EQ(j->record.seqno, 1u);
  EXPECT_EQ(j->record.queue_ts_ns, 1000u);
  EXPECT_EQ(j->record.queue_wait_ns, 500u);
  EXPECT_EQ(j->record.run_ns, 3000u);
  EXPECT_EQ(j->record.total_ns, 3500u);
  EXPECT_EQ(j->record.pid, 4242u);
  EXPECT_EQ(j->record.comm, "python3");
  EXPECT_EQ(j->extras.driver, "amdgpu");
  EXPECT_EQ(j->extras.dependencies, 2u);
  EXPECT_EQ(j->extras.client_id, 17u);
  EXPECT_EQ(j->extras.job_count, 1u);
  EXPECT_EQ(j->extras.hw_job_count, 2);
  EXPECT_EQ(a.extras_size(), 0u);
}

TEST(GpuJobs, InterleavedRingsKeepTheirOwnDepth) {
  JobAssembler a;
  // Two jobs on gfx, one on sdma, queued before any runs.
  a.OnRecord(Queue(100, 1, 10, "gfx"));
  a.OnRecord(Queue(110, 1, 11, "gfx"));
  a.OnRecord(Queue(120, 2, 50, "sdma0"));
  a.OnRecord(Rec(KS_GPU_JOB_RUN, 200, 1, 10));
  a.OnRecord(Rec(KS_GPU_JOB_RUN, 210, 1, 11));
  a.OnRecord(Rec(KS_GPU_JOB_RUN, 220, 2, 50));
  auto first = a.OnRecord(Rec(KS_GPU_JOB_DONE, 300, 1, 10));
  auto second = a.OnRecord(Rec(KS_GPU_JOB_DONE, 310, 1, 11));
  auto other = a.OnRecord(Rec(KS_GPU_JOB_DONE, 320, 2, 50));
  ASSERT_TRUE(first && second && other);
  EXPECT_EQ(first->record.queue_depth_at_queue, 0u);
  EXPECT_EQ(second->record.queue_depth_at_queue, 1u);  // the first was still queued
  EXPECT_EQ(second->record.in_flight_at_run, 1u);      // the first was running
  EXPECT_EQ(other->record.queue_depth_at_queue, 0u);   // another ring
  EXPECT_EQ(other->record.ring, "sdma0");
}

TEST(GpuJobs, UnknownKernelCountersStayAbsent) {
  JobAssembler a;
  ks_gpu_job_rec q = Queue(10, 5, 5, "v3d_bin");
  q.hw_job_count = -1;  // the program could not read it
  q.client_id = 0;      // before 6.17
  q.driver[0] = '\0';
  a.OnRecord(q);
  auto j = a.OnRecord(Rec(KS_GPU_JOB_DONE, 20, 5, 5));
  ASSERT_TRUE(j);
  EXPECT_FALSE(j->extras.hw_job_count);
  EXPECT_FALSE(j->extras.client_id);
  EXPECT_TRUE(j->extras.driver.empty());
  EXPECT_FALSE(j->record.run_ns);  // the run was never seen
}

TEST(GpuJobs, DoneWithoutQueueGivesNothingAndLeavesNoExtras) {
  JobAssembler a;
  ks_gpu_job_rec dep = Rec(KS_GPU_JOB_DEP, 5, 9, 9);
  a.OnRecord(dep);
  EXPECT_EQ(a.extras_size(), 1u);
  EXPECT_FALSE(a.OnRecord(Rec(KS_GPU_JOB_DONE, 10, 9, 9)));
  EXPECT_EQ(a.extras_size(), 0u);
  ks_gpu_job_rec bad = Rec(KS_GPU_JOB_DONE, 10, 9, 9);
  bad.phase = 77;
  EXPECT_FALSE(a.OnRecord(bad));
  EXPECT_EQ(a.unknown_phases(), 1u);
}

TEST(GpuJobs, ExtrasAreBoundedAndExpire) {
  JobAssembler a(4);
  for (uint64_t i = 0; i < 10; ++i) a.OnRecord(Queue(100 + i, 1, i, "gfx"));
  EXPECT_LE(a.extras_size(), 4u);
  EXPECT_GT(a.extras_dropped(), 0u);
  a.Expire(1'000'000, 1000);
  EXPECT_EQ(a.extras_size(), 0u);
  EXPECT_EQ(a.tracker_stats().live, 0u);
}

}  // namespace
}  // namespace ksight::gpu
