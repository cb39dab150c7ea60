// Kubernetes metadata: the kubelet's PodList (the real shape) turned into names by pod UID, and
// where the kubelet is found.
#include "core/k8s_metadata.h"

#include <gtest/gtest.h>

#include "core/config.h"

namespace ksight {
namespace {

const char* kPodList = R"({
  "kind": "PodList", "apiVersion": "v1", "metadata": {},
  "items": [
    {"metadata": {"name": "trainer-0", "namespace": "ml", "uid": "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
                  "labels": {"app": "trainer", "team": "vision", "pod-template-hash": "abc"}},
     "spec": {"nodeName": "gpu-7", "containers": [{"name": "cuda", "image": "nvcr.io/x"}]},
     "status": {"phase": "Running",
                "initContainerStatuses": [{"name": "init", "containerID": "containerd://1111111111111111111111111111111111111111111111111111111111111111"}],
                "containerStatuses": [
                  {"name": "cuda", "containerID": "containerd://5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "ready": true},
                  {"name": "sidecar", "containerID": "cri-o://2222222222222222222222222222222222222222222222222222222222222222"},
                  {"name": "waiting"}]}},
    {"metadata": {"name": "pending", "namespace": "default", "uid": "11111111-2222-3333-4444-555555555555"},
     "status": {"phase": "Pending"}},
    {"metadata": {"name": "no-uid"}},
    42
  ]})";

TEST(PodList, NamesContainersAndOnlyTheWantedLabels) {
  const std::vector<std::string> labels = {"app", "missing"};
  auto r = ParsePodList(kPodList, labels);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().pods.size(), 2u);
  EXPECT_EQ(r.value().skipped, 2u);
  const PodMetadata& p = r.value().pods.at("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
  EXPECT_EQ(p.name, "trainer-0");
  EXPECT_EQ(p.namespace_name, "ml");
  EXPECT_EQ(p.containers.at(std::string(64, '1')), "init");
  EXPECT_EQ(p.containers.at("5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"),
            "cuda");
  EXPECT_EQ(p.containers.at(std::string(64, '2')), "sidecar");
  EXPECT_EQ(p.containers.size(), 3u);  // "waiting" has no id yet
  ASSERT_EQ(p.labels.size(), 1u);
  EXPECT_EQ(p.labels[0], (std::pair<std::string, std::string>{"app", "trainer"}));
  EXPECT_TRUE(r.value().pods.at("11111111-2222-3333-4444-555555555555").containers.empty());
}

TEST(PodList, ClearErrors) {
  EXPECT_EQ(ParsePodList("<html>", {}).status().message(), "the kubelet's /pods is not JSON");
  EXPECT_EQ(ParsePodList(R"({"kind":"Status","code":403})", {}).status().message(),
            "the kubelet's /pods is not a PodList (no items array)");
  EXPECT_TRUE(ParsePodList(R"({"items":[]})", {}).ok());
}

TEST(PodList, Bounded) {
  std::string big = R"({"items":[)";
  for (size_t i = 0; i < kMaxPods + 10; ++i)
    big += (i ? "," : "") + std::string(R"({"metadata":{"uid":"u)") + std::to_string(i) + "\"}}";
  big += "]}";
  auto r = ParsePodList(big, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().pods.size(), kMaxPods);
  EXPECT_EQ(r.value().skipped, 10u);
}

TEST(KubeletUrl, AutoNeedsANodeAndAToken) {
  EXPECT_EQ(KubeletUrl("auto", "10.0.0.7", true), "https://10.0.0.7:10250/pods");
  EXPECT_EQ(KubeletUrl("auto", "fd00::7", true), "https://[fd00::7]:10250/pods");
  EXPECT_EQ(KubeletUrl("auto", nullptr, true), "");
  EXPECT_EQ(KubeletUrl("auto", "10.0.0.7", false), "");
  EXPECT_EQ(KubeletUrl("off", "10.0.0.7", true), "");
  EXPECT_EQ(KubeletUrl("http://127.0.0.1:10255/pods", nullptr, false),
            "http://127.0.0.1:10255/pods");
}

TEST(KubernetesSection, ConfigFileAndDefaults) {
  Config cfg;
  ASSERT_TRUE(ParseConfigText("[kubernetes]\nkubelet_url = \"https://n:10250/pods\"\n"
                              "labels = [\"app\"]\ntls_verify = \"off\"\n",
                              "t.toml", cfg)
                  .ok());
  EXPECT_EQ(cfg.Section("kubernetes").String("kubelet_url"), "https://n:10250/pods");
  EXPECT_EQ(cfg.Section("kubernetes").Strings("labels"), std::vector<std::string>{"app"});
  EXPECT_EQ(cfg.Section("kubernetes").Duration("refresh"), std::chrono::seconds(30));
  Config bad;
  const Status st = ParseConfigText("[kubernetes]\nkubelet_url = \"ftp://x\"\n", "t.toml", bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("kubernetes.kubelet_url"), std::string::npos) << st.message();
  Config bad2;
  EXPECT_FALSE(ParseConfigText("[kubernetes]\ntls_verify = \"maybe\"\n", "t.toml", bad2).ok());
}

}  // namespace
}  // namespace ksight
