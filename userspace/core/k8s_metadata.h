// k8s_metadata.h - Kubernetes metadata for workload identity: the [kubernetes] settings and the
// kubelet's pod list (GET /pods, a v1 PodList) turned into pod UID -> name, namespace, container
// names and the configured labels. Pure: the HTTP client is core/kubelet_client.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/settings.h"
#include "core/status.h"
#include "core/workload_identity.h"

namespace ksight {

// The [kubernetes] section (config file and flags).
std::span<const SettingDef> KubernetesSettings();
inline constexpr std::string_view kKubernetesSection = "kubernetes";

using PodMap = std::unordered_map<std::string, PodMetadata>;  // by pod UID

// Bounds: a node runs at most a few hundred pods; a bigger list is cut (and counted).
inline constexpr size_t kMaxPods = 4096;
inline constexpr size_t kMaxContainersPerPod = 64;
inline constexpr size_t kMaxLabelValue = 256;

struct PodListResult {
  PodMap pods;
  size_t skipped = 0;  // items without a uid, or past kMaxPods
};
// A PodList's JSON -> pods by UID: metadata.{uid,name,namespace}, the wanted metadata.labels,
// and status.{,init,ephemeral}containerStatuses[].{name,containerID} ("containerd://<id>",
// "cri-o://<id>", "docker://<id>"). A clear error for text that is not a PodList.
Result<PodListResult> ParsePodList(std::string_view json, std::span<const std::string> labels);

// Where the kubelet is: `kubelet_url` when set; "auto" (the default) uses
// https://$NODE_IP:10250/pods when NODE_IP is set (the DaemonSet sets it from status.hostIP) and
// a service-account token exists; "" = off.
std::string KubeletUrl(std::string_view setting, const char* node_ip, bool have_token);

}  // namespace ksight
