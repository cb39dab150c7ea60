// Unit tests for the gpu probe's planner (probes/gpu/gpu_plan.h): from a host's facts to the
// source verdicts and the programs to load, on hosts shaped like the kernels of the matrix
// (format files as captured in the tests/vm guests, see gpu_tp_format_test.cc).
#include "probes/gpu/gpu_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ksight::gpu {
namespace {

constexpr const char* kCommon =
    R"(	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

)";

std::string Fmt(const char* name, const char* fields) {
  return std::string("name: ") + name + "\nID: 1234\nformat:\n" + kCommon + fields +
         "\nprint fmt: \"\"\n";
}

// 5.10: ring name as a pointer, fence as a pointer.
constexpr const char* k510JobFields =
    R"(	field:struct drm_sched_entity * entity;	offset:8;	size:8;	signed:0;
	field:struct dma_fence * fence;	offset:16;	size:8;	signed:0;
	field:const char * name;	offset:24;	size:8;	signed:0;
	field:uint64_t id;	offset:32;	size:8;	signed:0;
	field:u32 job_count;	offset:40;	size:4;	signed:0;
	field:int hw_job_count;	offset:44;	size:4;	signed:1;
)";
constexpr const char* k510DoneFields =
    R"(	field:struct dma_fence * fence;	offset:8;	size:8;	signed:0;
)";
// 6.17+: fence context and seqno as values.
constexpr const char* k617QueueFields =
    R"(	field:__data_loc char[] name;	offset:8;	size:4;	signed:0;
	field:u32 job_count;	offset:12;	size:4;	signed:0;
	field:int hw_job_count;	offset:16;	size:4;	signed:1;
	field:__data_loc char[] dev;	offset:20;	size:4;	signed:0;
	field:u64 fence_context;	offset:24;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:32;	size:8;	signed:0;
	field:u64 client_id;	offset:40;	size:8;	signed:0;
)";
constexpr const char* k617DoneFields =
    R"(	field:u64 fence_context;	offset:8;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:16;	size:8;	signed:0;
)";
constexpr const char* k617AddDepFields =
    R"(	field:u64 fence_context;	offset:8;	size:8;	signed:0;
	field:u64 fence_seqno;	offset:16;	size:8;	signed:0;
	field:u64 ctx;	offset:24;	size:8;	signed:0;
	field:u64 seqno;	offset:32;	size:8;	signed:0;
)";
constexpr const char* kNvXidFields =
    R"(	field:__data_loc char[] dev;	offset:8;	size:4;	signed:0;
	field:u32 error_code;	offset:12;	size:4;	signed:0;
	field:__data_loc char[] msg;	offset:16;	size:4;	signed:0;
)";

GpuHostFacts Host() {
  GpuHostFacts f;
  f.btf = true;
  f.tracefs_path = "/sys/kernel/tracing";
  f.console_every_line = true;
  f.console_loglevel = 7;
  f.kmsg = false;  // the tests that read /dev/kmsg say so
  f.kmsg_error = "opening /dev/kmsg: Permission denied";
  return f;
}

void AddTp(GpuHostFacts& f, const std::string& cat, const std::string& name,
           const char* fields = "") {
  f.tracepoints[cat + ":" + name] = Fmt(name.c_str(), fields);
}

void AddFence(GpuHostFacts& f) {
  for (const char* n : {"dma_fence_init", "dma_fence_emit", "dma_fence_signaled",
                        "dma_fence_wait_start", "dma_fence_wait_end"})
    AddTp(f, "dma_fence", n);
}

std::string Detail(const GpuPlan& p, const std::string& source) {
  for (const auto& [k, v] : GpuPlanDetails(p))
    if (k == source) return v;
  ADD_FAILURE() << "no detail " << source;
  return {};
}

// Debian 5.10: classic tracepoints only (no tp_btf target here, no module BTF), printk:console
// fires only for lines the console prints (so /dev/kmsg is read instead), old scheduler names
// with pointer fields.
TEST(GpuPlan, Kernel510UsesClassicTracepointsEverywhere) {
  GpuHostFacts f = Host();
  f.console_every_line = false;
  f.console_loglevel = 4;  // `quiet`
  f.kmsg = true;
  AddTp(f, "printk", "console");
  AddFence(f);
  AddTp(f, "gpu_scheduler", "drm_sched_job", k510JobFields);
  AddTp(f, "gpu_scheduler", "drm_run_job", k510JobFields);
  AddTp(f, "gpu_scheduler", "drm_sched_process_job", k510DoneFields);
  const GpuPlan p = MakeGpuPlan(f);

  EXPECT_FALSE(p.console_btf);
  EXPECT_FALSE(p.console_tp);
  EXPECT_TRUE(p.kmsg);
  EXPECT_TRUE(p.every_line);
  EXPECT_EQ(Detail(p, "printk"),
            "available: /dev/kmsg, every line at every level (printk:console on this kernel "
            "traces only lines the console prints)");
  EXPECT_TRUE(p.fence());
  EXPECT_TRUE(p.fence_signaled_tp);
  EXPECT_TRUE(p.fence_wait_end_tp);
  EXPECT_EQ(Detail(p, "dma_fence"),
            "available: tracepoint init, emit, wait_start; tracepoint signaled, wait_end "
            "(tracepoint)");
  ASSERT_EQ(p.sched, SchedMode::kTracepoint);
  EXPECT_FALSE(p.scheme->new_names);
  EXPECT_FALSE(p.sched_dep);         // the old wait_dep event is not used on the tracepoint path
  EXPECT_EQ(p.queue.fence_ptr, 16);  // the layouts come from the format files
  EXPECT_EQ(p.queue.name, 24);
  EXPECT_EQ(p.done.fence_ptr, 8);
  EXPECT_EQ(Detail(p, "gpu_scheduler (<=6.16)"),
            "available: tracepoint drm_sched_job, drm_run_job, drm_sched_process_job (no BTF "
            "for the scheduler's types)");
  EXPECT_EQ(Detail(p, "gpu_scheduler (>=6.17)"),
            "unavailable: this kernel has the names used up to 6.16");

  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_FALSE(g.console_tp || g.console_btf);  // /dev/kmsg instead
  EXPECT_TRUE(g.sched_queue_old_tp && g.sched_run_old_tp && g.sched_done_old_tp);
  EXPECT_FALSE(g.sched_queue_old_btf || g.sched_queue_btf || g.sched_queue_tp);
  EXPECT_TRUE(g.fence_signaled_tp && g.fence_wait_end_tp && g.fence_init_tp);
  EXPECT_FALSE(g.fence_signaled_btf || g.fence_wait_end_btf);

  const GpuVerdict v = GpuPlanVerdict(f, p);
  EXPECT_TRUE(v.runnable);
  EXPECT_EQ(v.reason, "sources: printk, dma_fence, gpu_scheduler (<=6.16)");
}

TEST(GpuPlan, OldSchedulerNamesWithModuleBtfUseTpBtf) {
  GpuHostFacts f = Host();
  f.vmlinux_tp_btf = {"console", "dma_fence_signaled", "dma_fence_wait_end"};
  AddTp(f, "printk", "console");
  AddFence(f);
  for (const char* n :
       {"drm_sched_job", "drm_run_job", "drm_sched_process_job", "drm_sched_job_wait_dep"}) {
    AddTp(f, "gpu_scheduler", n);  // formats unused on the tp_btf path
    f.gpu_sched_tp_btf.insert(n);
  }
  const GpuPlan p = MakeGpuPlan(f);

  EXPECT_TRUE(p.console_btf);
  EXPECT_FALSE(p.console_tp);
  EXPECT_EQ(Detail(p, "printk"), "available: tp_btf console, every line at every level");
  EXPECT_EQ(Detail(p, "dma_fence"),
            "available: tracepoint init, emit, wait_start; tp_btf signaled, wait_end (tp_btf)");
  ASSERT_EQ(p.sched, SchedMode::kBtf);
  EXPECT_TRUE(p.sched_dep);
  EXPECT_EQ(Detail(p, "gpu_scheduler (<=6.16)"),
            "available: tp_btf drm_sched_job, drm_run_job, drm_sched_process_job, "
            "drm_sched_job_wait_dep");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_TRUE(g.sched_queue_old_btf && g.sched_run_old_btf && g.sched_done_old_btf &&
              g.sched_dep_old_btf);
  EXPECT_FALSE(g.sched_queue_btf || g.sched_queue_old_tp || g.sched_queue_tp);
  EXPECT_TRUE(g.console_btf && g.fence_signaled_btf && g.fence_wait_end_btf);
  EXPECT_FALSE(g.console_tp || g.fence_signaled_tp || g.fence_wait_end_tp);
}

// 6.17 renamed and reshaped the gpu_scheduler events.
TEST(GpuPlan, NewSchedulerNamesWithVmlinuxBtf) {
  GpuHostFacts f = Host();
  for (const char* n : {"drm_sched_job_queue", "drm_sched_job_run", "drm_sched_job_done"}) {
    AddTp(f, "gpu_scheduler", n);
    f.vmlinux_tp_btf.insert(n);  // built in: vmlinux BTF has them
  }
  const GpuPlan p = MakeGpuPlan(f);
  ASSERT_EQ(p.sched, SchedMode::kBtf);
  EXPECT_TRUE(p.scheme->new_names);
  EXPECT_FALSE(p.sched_dep);  // no btf_trace_drm_sched_job_add_dep
  EXPECT_EQ(Detail(p, "gpu_scheduler (>=6.17)"),
            "available: tp_btf drm_sched_job_queue, drm_sched_job_run, drm_sched_job_done");
  EXPECT_EQ(Detail(p, "gpu_scheduler (<=6.16)"), "unavailable: this kernel has the 6.17+ names");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_TRUE(g.sched_queue_btf && g.sched_run_btf && g.sched_done_btf);
  EXPECT_FALSE(g.sched_dep_btf || g.sched_queue_old_btf || g.sched_queue_tp);
  const GpuVerdict v = GpuPlanVerdict(f, p);
  EXPECT_TRUE(v.runnable);
  EXPECT_EQ(v.reason, "sources: gpu_scheduler (>=6.17)");
}

TEST(GpuPlan, NewSchedulerNamesWithoutBtfReadTheFormats) {
  GpuHostFacts f = Host();
  AddTp(f, "gpu_scheduler", "drm_sched_job_queue", k617QueueFields);
  AddTp(f, "gpu_scheduler", "drm_sched_job_run", k617QueueFields);
  AddTp(f, "gpu_scheduler", "drm_sched_job_done", k617DoneFields);
  AddTp(f, "gpu_scheduler", "drm_sched_job_add_dep", k617AddDepFields);
  const GpuPlan p = MakeGpuPlan(f);
  ASSERT_EQ(p.sched, SchedMode::kTracepoint) << Detail(p, "gpu_scheduler (>=6.17)");
  EXPECT_TRUE(p.sched_dep);
  EXPECT_EQ(p.queue.fence_ctx, 24);
  EXPECT_EQ(p.dep.dep_ctx, 24);
  EXPECT_EQ(p.dep.dep_seqno, 32);
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_TRUE(g.sched_queue_tp && g.sched_run_tp && g.sched_done_tp && g.sched_dep_tp);
  EXPECT_FALSE(g.sched_queue_btf || g.sched_queue_old_tp);
}

TEST(GpuPlan, SchedulerFormatWithoutNeededFieldDisablesOnlyTheScheduler) {
  GpuHostFacts f = Host();
  AddTp(f, "printk", "console");
  AddTp(f, "gpu_scheduler", "drm_sched_job_queue", k617QueueFields);
  AddTp(f, "gpu_scheduler", "drm_sched_job_run", k617QueueFields);
  AddTp(f, "gpu_scheduler", "drm_sched_job_done", "");  // no fence fields
  const GpuPlan p = MakeGpuPlan(f);
  EXPECT_EQ(p.sched, SchedMode::kNone);
  EXPECT_TRUE(Detail(p, "gpu_scheduler (>=6.17)")
                  .starts_with("unavailable: no BTF for the scheduler and drm_sched_job_done"))
      << Detail(p, "gpu_scheduler (>=6.17)");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_FALSE(g.sched_queue_tp || g.sched_run_tp || g.sched_done_tp);
  EXPECT_TRUE(GpuPlanVerdict(f, p).runnable);  // printk still runs
}

TEST(GpuPlan, NvidiaTracepointsPresent) {
  GpuHostFacts f = Host();
  AddTp(f, "nvidia", "nvidia_dev_xid", kNvXidFields);
  AddTp(f, "nvswitch", "nvswitch_dev_sxid", kNvXidFields);
  const GpuPlan p = MakeGpuPlan(f);
  EXPECT_TRUE(p.xid);
  EXPECT_TRUE(p.sxid);
  EXPECT_EQ(p.xid_layout.dev, 8);
  EXPECT_EQ(p.xid_layout.error_code, 12);
  EXPECT_EQ(Detail(p, "nvidia_dev_xid"), "available: tracepoint nvidia:nvidia_dev_xid");
  EXPECT_EQ(Detail(p, "nvswitch_dev_sxid"), "available: tracepoint nvswitch:nvswitch_dev_sxid");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_TRUE(g.nvidia_dev_xid && g.nvswitch_dev_sxid);
  EXPECT_EQ(GpuPlanVerdict(f, p).reason, "sources: nvidia_dev_xid, nvswitch_dev_sxid");
}

TEST(GpuPlan, NvidiaTracepointsAbsentOrUnreadable) {
  GpuHostFacts f = Host();
  AddTp(f, "printk", "console");
  AddTp(f, "nvidia", "nvidia_dev_xid", "");  // a format without the fields
  const GpuPlan p = MakeGpuPlan(f);
  EXPECT_FALSE(p.xid);
  EXPECT_FALSE(p.sxid);
  EXPECT_EQ(p.xid_layout.dev, KS_GPU_OFF_NONE);
  EXPECT_TRUE(Detail(p, "nvidia_dev_xid").starts_with("unavailable: nvidia:nvidia_dev_xid: "))
      << Detail(p, "nvidia_dev_xid");
  EXPECT_EQ(Detail(p, "nvswitch_dev_sxid"),
            "unavailable: tracepoint nvswitch:nvswitch_dev_sxid not found (driver not loaded, "
            "or older than 575.51.02); printk still reports these faults");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_FALSE(g.nvidia_dev_xid || g.nvswitch_dev_sxid);
  EXPECT_EQ(GpuPlanVerdict(f, p).reason, "sources: printk");
}

TEST(GpuPlan, FenceNeedsInitAndSignaled) {
  GpuHostFacts f = Host();
  AddTp(f, "dma_fence", "dma_fence_signaled");
  AddTp(f, "dma_fence", "dma_fence_wait_start");
  AddTp(f, "dma_fence", "dma_fence_wait_end");
  const GpuPlan p = MakeGpuPlan(f);
  EXPECT_FALSE(p.fence());
  EXPECT_FALSE(p.fence_wait_start || p.fence_wait_end_tp || p.fence_signaled_tp);
  EXPECT_EQ(Detail(p, "dma_fence"),
            "unavailable: tracepoint dma_fence:dma_fence_signaled not found in "
            "/sys/kernel/tracing/events");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_FALSE(g.fence_wait_start_tp || g.fence_wait_end_tp || g.fence_signaled_tp);
}

TEST(GpuPlan, NoTracefsLeavesOnlyTpBtf) {
  GpuHostFacts f = Host();
  f.tracefs_path.clear();
  f.tracefs_error = "tracefs is not mounted";
  f.tracepoints.clear();
  f.vmlinux_tp_btf = {"console", "dma_fence_signaled"};
  GpuPlan p = MakeGpuPlan(f);
  EXPECT_TRUE(p.console_btf);
  EXPECT_FALSE(p.fence());  // dma_fence_init is a classic tracepoint
  EXPECT_EQ(Detail(p, "dma_fence"), "unavailable: tracefs is not mounted");
  EXPECT_EQ(p.sched, SchedMode::kNone);
  EXPECT_TRUE(Detail(p, "gpu_scheduler (<=6.16)").starts_with("unavailable: no gpu_scheduler"));
  EXPECT_EQ(GpuPlanVerdict(f, p).reason, "sources: printk");

  // Tracepoints in the facts do not count without tracefs; /dev/kmsg still gives printk.
  AddTp(f, "printk", "console");
  f.vmlinux_tp_btf.clear();
  f.kmsg = true;
  p = MakeGpuPlan(f);
  EXPECT_TRUE(p.kmsg);
  EXPECT_EQ(Detail(p, "printk"),
            "available: /dev/kmsg, every line at every level (no printk:console tracepoint: "
            "tracefs is not mounted)");
  f.kmsg = false;
  f.kmsg_error = "opening /dev/kmsg: Permission denied";
  p = MakeGpuPlan(f);
  EXPECT_FALSE(p.printk_on());
  EXPECT_EQ(Detail(p, "printk"), "unavailable: tracefs is not mounted");
  const GpuVerdict v = GpuPlanVerdict(f, p);
  EXPECT_FALSE(v.runnable);
  EXPECT_EQ(v.reason,
            "no GPU source on this host (no printk:console or /dev/kmsg, NVIDIA, dma_fence or "
            "gpu_scheduler tracepoint)");
  const GpuPrograms g = GpuProgramsFor(p);
  EXPECT_FALSE(g.console_btf || g.console_tp || g.fence_init_tp);
}

TEST(GpuPlan, ConsoleTracesEveryLineFrom519) {
  EXPECT_FALSE(ConsoleTracesEveryLine("5.10.0-26-amd64"));
  EXPECT_FALSE(ConsoleTracesEveryLine("5.15.0-91-generic"));  // Ubuntu 22.04: printk_sprint, old
  EXPECT_FALSE(ConsoleTracesEveryLine("5.18.19"));
  EXPECT_TRUE(ConsoleTracesEveryLine("5.19.0"));
  EXPECT_TRUE(ConsoleTracesEveryLine("6.1.0-13-amd64"));
  EXPECT_TRUE(ConsoleTracesEveryLine("7.2.0-1-amd64"));
  EXPECT_TRUE(ConsoleTracesEveryLine("10.0"));
  EXPECT_FALSE(ConsoleTracesEveryLine("4.19.0"));
  EXPECT_FALSE(ConsoleTracesEveryLine(""));
  EXPECT_FALSE(ConsoleTracesEveryLine("linux"));
  EXPECT_FALSE(ConsoleTracesEveryLine("6"));
}

// printk_source: "auto" takes the tracepoint where it sees every line (5.19+) and /dev/kmsg
// elsewhere; a forced choice is honoured and its limits are said; no way left is unavailable.
TEST(GpuPlan, PrintkSourcePerKernelAndSetting) {
  GpuHostFacts f = Host();
  AddTp(f, "printk", "console");
  f.console_loglevel = 4;
  f.kmsg = true;
  GpuPlan p = MakeGpuPlan(f);  // 5.19+, auto
  EXPECT_TRUE(p.console_tp && !p.kmsg && p.every_line);
  EXPECT_EQ(p.printk, "available: tracepoint printk:console, every line at every level");
  f.printk_source = "kmsg";
  p = MakeGpuPlan(f);
  EXPECT_TRUE(p.kmsg && !p.console_tp && !p.console_btf && p.every_line);
  EXPECT_EQ(p.printk, "available: /dev/kmsg (printk_source kmsg), every line at every level");
  EXPECT_FALSE(GpuProgramsFor(p).console_tp);

  f.console_every_line = false;  // before 5.19
  f.printk_source = "tracepoint";
  p = MakeGpuPlan(f);
  EXPECT_TRUE(p.console_tp && !p.kmsg && !p.every_line);
  EXPECT_EQ(p.printk,
            "available: tracepoint printk:console, only lines below console_loglevel 4 "
            "(printk_source is tracepoint): this kernel traces only lines the console prints; "
            "lines at level 4 and above (KERN_WARNING Xids are 4, i915 hangs 5) are missed");
  f.printk_source = "auto";
  f.kmsg = false;
  f.kmsg_error = "opening /dev/kmsg: Permission denied";
  f.console_loglevel = -1;
  p = MakeGpuPlan(f);
  EXPECT_TRUE(p.console_tp && !p.every_line);
  EXPECT_EQ(p.printk,
            "available: tracepoint printk:console, only lines the console prints (opening "
            "/dev/kmsg: Permission denied)");
  f.printk_source = "kmsg";
  p = MakeGpuPlan(f);
  EXPECT_FALSE(p.printk_on());
  EXPECT_EQ(p.printk,
            "unavailable: printk_source is kmsg and opening /dev/kmsg: Permission denied");

  // No tracefs and no tracepoint: /dev/kmsg alone runs the printk source on old kernels.
  GpuHostFacts g = Host();
  g.kmsg = true;
  g.console_every_line = false;
  g.tracefs_path.clear();
  g.tracefs_error = "tracefs is not mounted";
  p = MakeGpuPlan(g);
  EXPECT_TRUE(p.kmsg);
  EXPECT_EQ(GpuPlanVerdict(g, p).reason, "sources: printk");
}

TEST(GpuPlan, NoBtfIsNotRunnableWhateverTheSources) {
  GpuHostFacts f = Host();
  f.btf = false;
  f.btf_error = "no kernel BTF at /sys/kernel/btf/vmlinux";
  AddTp(f, "printk", "console");
  const GpuPlan p = MakeGpuPlan(f);
  const GpuVerdict v = GpuPlanVerdict(f, p);
  EXPECT_FALSE(v.runnable);
  EXPECT_EQ(v.reason, f.btf_error);
}

// The gatherer asks the host about exactly these names: every name a plan can use is there.
TEST(GpuPlan, NamesOfInterestCoverEverySource) {
  const auto& tps = GpuTracepointsOfInterest();
  auto has_tp = [&](const char* c, const char* n) {
    return std::find(tps.begin(), tps.end(), std::pair<std::string, std::string>(c, n)) !=
           tps.end();
  };
  EXPECT_TRUE(has_tp("printk", "console"));
  EXPECT_TRUE(has_tp("nvidia", "nvidia_dev_xid"));
  EXPECT_TRUE(has_tp("nvswitch", "nvswitch_dev_sxid"));
  EXPECT_TRUE(has_tp("dma_fence", "dma_fence_wait_end"));
  EXPECT_TRUE(has_tp("gpu_scheduler", "drm_sched_job_wait_dep"));
  EXPECT_TRUE(has_tp("gpu_scheduler", "drm_sched_job_add_dep"));
  const auto& btf = GpuTpBtfOfInterest();
  for (const char* n :
       {"console", "dma_fence_signaled", "dma_fence_wait_end", "drm_run_job", "drm_sched_job_run"})
    EXPECT_NE(std::find(btf.begin(), btf.end(), n), btf.end()) << n;
}

}  // namespace
}  // namespace ksight::gpu
