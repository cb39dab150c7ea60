// k8s_metadata.cc - see k8s_metadata.h.
#include "core/k8s_metadata.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ksight {
namespace {

Status CheckUrl(const SettingValue& v) {
  const auto& s = std::get<std::string>(v);
  if (s.empty() || s == "auto" || s == "off" || s.starts_with("http://") ||
      s.starts_with("https://"))
    return {};
  return Status::Error(
      fmt::format("'{}' is not a URL (http://HOST:PORT/pods or https://...), auto or off", s));
}

Status CheckOnOff(const SettingValue& v) {
  const auto& s = std::get<std::string>(v);
  if (s == "on" || s == "off") return {};
  return Status::Error(fmt::format("'{}' must be on or off", s));
}

const SettingDef kSettings[] = {
    {.key = "kubelet_url",
     .kind = SettingKind::kString,
     .default_value = "auto",
     .help = "The kubelet's pod list, for pod names, namespaces, container names and labels: a "
             "URL (https://NODE:10250/pods, or the read-only http://127.0.0.1:10255/pods), "
             "\"auto\" (https://$NODE_IP:10250/pods when NODE_IP is set and a service-account "
             "token exists: the DaemonSet) or \"off\". Without it records still carry "
             "k8s.pod.uid.",
     .flag = "--kubelet-url",
     .flag_help = "the kubelet's /pods URL, auto or off",
     .check = &CheckUrl},
    {.key = "token_file",
     .kind = SettingKind::kString,
     .default_value = "/var/run/secrets/kubernetes.io/serviceaccount/token",
     .help = "Bearer token for the kubelet (read again at every refresh: tokens rotate)."},
    {.key = "ca_file",
     .kind = SettingKind::kString,
     .default_value = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
     .help = "CA bundle that signed the kubelet's serving certificate."},
    {.key = "tls_verify",
     .kind = SettingKind::kString,
     .default_value = "on",
     .help = "Verify the kubelet's certificate (\"off\" for kubelets with self-signed serving "
             "certificates; the token is still sent only to kubelet_url).",
     .check = &CheckOnOff},
    {.key = "refresh",
     .kind = SettingKind::kDuration,
     .default_value = "30s",
     .help = "How often the pod list is fetched (also soon after a record names an unknown pod, "
             "at most every 5s).",
     .min = 1'000'000'000ULL,
     .max = 3600ULL * 1'000'000'000ULL},
    {.key = "labels",
     .kind = SettingKind::kStrings,
     .default_value = "",
     .help = "Pod labels to add to records as k8s.pod.label.<key> (e.g. [\"app\", "
             "\"app.kubernetes.io/name\"]); none by default, so label cardinality is a choice.",
     .flag = "--k8s-label",
     .flag_help = "add this pod label to records (repeatable)",
     .split_commas = true,
     .items = "label keys"},
};

std::string_view StripRuntime(std::string_view id) {
  const size_t p = id.find("://");
  return p == std::string_view::npos ? id : id.substr(p + 3);
}

}  // namespace

std::span<const SettingDef> KubernetesSettings() { return kSettings; }

Result<PodListResult> ParsePodList(std::string_view text, std::span<const std::string> labels) {
  using json = nlohmann::json;
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::Error("the kubelet's /pods is not JSON");
  if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array())
    return Status::Error("the kubelet's /pods is not a PodList (no items array)");
  PodListResult out;
  auto str = [](const json& o, const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  for (const json& item : doc["items"]) {
    if (!item.is_object()) {
      ++out.skipped;
      continue;
    }
    const json& meta = item.contains("metadata") ? item["metadata"] : json::object();
    if (!meta.is_object() || str(meta, "uid").empty() || out.pods.size() >= kMaxPods) {
      ++out.skipped;
      continue;
    }
    PodMetadata pod;
    pod.name = str(meta, "name");
    pod.namespace_name = str(meta, "namespace");
    if (auto it = meta.find("labels"); it != meta.end() && it->is_object()) {
      for (const std::string& key : labels) {
        auto l = it->find(key);
        if (l != it->end() && l->is_string())
          pod.labels.emplace_back(key, l->get<std::string>().substr(0, kMaxLabelValue));
      }
    }
    if (auto st = item.find("status"); st != item.end() && st->is_object()) {
      for (const char* list :
           {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
        auto cs = st->find(list);
        if (cs == st->end() || !cs->is_array()) continue;
        for (const json& c : *cs) {
          if (!c.is_object() || pod.containers.size() >= kMaxContainersPerPod) continue;
          const std::string id(StripRuntime(str(c, "containerID")));
          if (!id.empty() && !str(c, "name").empty()) pod.containers[id] = str(c, "name");
        }
      }
    }
    out.pods[str(meta, "uid")] = std::move(pod);
  }
  return out;
}

std::string KubeletUrl(std::string_view setting, const char* node_ip, bool have_token) {
  if (setting == "off" || setting.empty()) return {};
  if (setting != "auto") return std::string(setting);
  if (node_ip == nullptr || *node_ip == '\0' || !have_token) return {};
  const std::string_view ip(node_ip);
  // An IPv6 node address goes in brackets.
  return ip.find(':') != std::string_view::npos ? fmt::format("https://[{}]:10250/pods", ip)
                                                : fmt::format("https://{}:10250/pods", ip);
}

}  // namespace ksight
