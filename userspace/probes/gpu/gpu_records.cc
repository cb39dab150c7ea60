// gpu_records.cc - see gpu_records.h.
#include "probes/gpu/gpu_records.h"

#include "probes/gpu/xid_codes.h"

namespace ksight::gpu {
namespace {

// Absent when unknown (a line read from /dev/kmsg: the kernel does not keep the logging task).
void WriteReporter(JsonWriter& w, const Reporter& r) {
  if (r.comm.empty()) return;
  w.KObject("reporter").KV("pid", r.pid).KV("tid", r.tid).KV("comm", r.comm).EndObject();
}

void WriteSources(JsonWriter& w, const MergedXid& m) {
  w.KV("source", XidSourceName(m.source));
  w.KArray("sources");
  if (m.seen_tracepoint) w.String("tracepoint");
  if (m.seen_log) w.String(XidSourceName(m.log_source));
  w.EndArray();
}

void WriteBus(JsonWriter& w, std::string_view device, bool keep_function) {
  if (device.empty()) return;
  if (auto bus = NormalizePciBusId(device, keep_function)) w.KV("pci_bus_id", *bus);
}

void WriteLatency(JsonWriter& w, std::string_view key, const Latency& d) {
  if (d.count == 0) return;
  const LatencySummary s = Summarize(d);
  w.KObject(key);
  w.KV("count", s.count).KV("sum_ns", s.sum_ns).KV("max_ns", s.max_ns);
  w.KV("p50_ns", s.p50_ns).KV("p90_ns", s.p90_ns).KV("p99_ns", s.p99_ns);
  w.EndObject();
}

}  // namespace

std::string_view XidRecordType(const MergedXid& m) {
  return std::holds_alternative<SxidEvent>(m.event) ? "gpu.sxid" : "gpu.xid";
}

void WriteXidBody(JsonWriter& w, const MergedXid& m) {
  if (const auto* x = std::get_if<XidEvent>(&m.event)) {
    w.KObject("gpu");
    WriteBus(w, x->pci_bus_id, false);
    if (x->gpu_instance) w.KV("gpu_instance", *x->gpu_instance);
    if (x->compute_instance) w.KV("compute_instance", *x->compute_instance);
    w.KV("driver", "nvidia");
    w.EndObject();

    const XidInfo info = LookupXid(x->code);
    w.KObject("xid");
    w.KV("code", x->code).KV("name", info.name);
    w.KV("severity", SeverityName(XidSeverity(x->code, x->message)));
    w.KV("cause", info.cause).KV("action", info.action);
    if (auto ra = XidRecoveryAction(x->message)) w.KV("recovery_action", *ra);
    if (x->pid) w.KV("pid", *x->pid);
    if (x->process_name) w.KV("process_name", *x->process_name);
    w.KV("message", x->message);
    if (x->caused_by) w.KV("caused_by", *x->caused_by);
    WriteSources(w, m);
    w.EndObject();
  } else {
    const auto& s = std::get<SxidEvent>(m.event);
    w.KObject("gpu");
    WriteBus(w, s.pci_bus_id, true);
    if (!s.device.empty()) w.KV("device", s.device);
    w.KV("driver", "nvswitch");
    w.EndObject();

    const SxidInfo info = LookupSxid(s.code, s.fatal);
    w.KObject("xid");
    w.KV("code", s.code).KV("name", info.unit).KV("unit", info.unit);
    w.KV("severity", SeverityName(info.severity)).KV("action", info.action);
    if (s.fatal) w.KV("fatal", *s.fatal);
    if (s.link) w.KV("link", *s.link);
    w.KV("message", s.message);
    WriteSources(w, m);
    w.EndObject();
  }
  WriteReporter(w, m.reporter);
}

XidMetricKey XidMetricKeyOf(const MergedXid& m) {
  XidMetricKey k;
  if (const auto* x = std::get_if<XidEvent>(&m.event)) {
    k.pci_bus_id = NormalizePciBusId(x->pci_bus_id, false).value_or("");
    k.code = x->code;
    k.name = LookupXid(x->code).name;
    k.severity = SeverityName(XidSeverity(x->code, x->message));
  } else {
    const auto& s = std::get<SxidEvent>(m.event);
    const SxidInfo info = LookupSxid(s.code, s.fatal);
    k.sxid = true;
    k.pci_bus_id = NormalizePciBusId(s.pci_bus_id, true).value_or("");
    k.code = s.code;
    k.name = info.unit;
    k.severity = SeverityName(info.severity);
  }
  return k;
}

void WriteResetBody(JsonWriter& w, const ResetEvent& r, const Reporter& reporter,
                    XidSource source) {
  w.KObject("gpu");
  WriteBus(w, r.device, true);
  if (!r.device.empty()) w.KV("device", r.device);
  w.KV("driver", r.driver);
  w.EndObject();

  w.KObject("reset");
  w.KV("kind", ResetKindName(r.kind));
  if (!r.ring.empty()) w.KV("ring", r.ring);
  if (r.signaled_seq) w.KV("signaled_seq", *r.signaled_seq);
  if (r.emitted_seq) w.KV("emitted_seq", *r.emitted_seq);
  if (r.seqno) w.KV("seqno", *r.seqno);
  if (r.reset_count) w.KV("reset_count", *r.reset_count);
  if (r.gt) w.KV("gt", *r.gt);
  if (!r.hub.empty()) w.KV("hub", r.hub);
  if (r.pasid) w.KV("pasid", *r.pasid);
  if (r.pid) w.KV("pid", *r.pid);
  if (r.process_name) w.KV("process_name", *r.process_name);
  w.KV("message", r.message);
  w.KV("source", XidSourceName(source));
  w.EndObject();
  WriteReporter(w, reporter);
}

void WriteJobBody(JsonWriter& w, const JobRecord& j, const JobExtras& x) {
  w.KObject("gpu");
  WriteBus(w, j.device, true);
  if (!j.device.empty()) w.KV("device", j.device);
  if (!x.driver.empty()) w.KV("driver", x.driver);
  w.EndObject();

  w.KObject("job");
  w.KV("ring", j.ring).KV("fence_context", j.fence_ctx).KV("fence_seqno", j.seqno);
  if (j.queue_wait_ns) w.KV("queue_wait_ns", *j.queue_wait_ns);
  if (j.run_ns) w.KV("run_ns", *j.run_ns);
  w.KV("total_ns", j.total_ns);
  w.KV("queue_depth", j.queue_depth_at_queue);
  if (j.in_flight_at_run) w.KV("in_flight", *j.in_flight_at_run);
  w.KV("dependencies", x.dependencies);
  if (x.client_id) w.KV("client_id", *x.client_id);
  if (x.job_count) w.KV("entity_job_count", *x.job_count);
  if (x.hw_job_count) w.KV("hw_job_count", *x.hw_job_count);
  w.EndObject();

  if (j.pid) {
    w.KObject("process").KV("pid", *j.pid);
    if (j.comm) w.KV("comm", *j.comm);
    w.EndObject();
  }
}

void WriteFenceStatsBody(JsonWriter& w, std::string_view driver, std::string_view timeline,
                         const FenceStats& d) {
  w.KObject("gpu").KV("driver", driver).KV("timeline", timeline).EndObject();
  w.KObject("stats");
  WriteLatency(w, "emit_to_signal", d.emit_to_signal);
  WriteLatency(w, "init_to_signal", d.init_to_signal);
  WriteLatency(w, "wait", d.wait);
  w.EndObject();
}

}  // namespace ksight::gpu
