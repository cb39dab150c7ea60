// kubelet_client.cc - see kubelet_client.h.
#include "core/kubelet_client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

namespace ksight {
namespace {

constexpr auto kMinGap = std::chrono::seconds(5);  // between fetches asked for by Wanted()

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  return t;
}

// "https://host:port/path" -> ("https://host:port", "/path").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, "/pods"};
  return {url.substr(0, slash), url.substr(slash)};
}

}  // namespace

std::optional<KubeletClient::Options> KubeletClient::FromConfig(const SectionValues& s) {
  Options o;
  o.token_file = s.String("token_file");
  const bool have_token = !ReadToken(o.token_file).empty();
  o.url = KubeletUrl(s.String("kubelet_url"), std::getenv("NODE_IP"), have_token);
  if (o.url.empty()) return std::nullopt;
  o.ca_file = s.String("ca_file");
  o.tls_verify = s.String("tls_verify") == "on";
  o.refresh = s.Duration("refresh");
  o.labels = s.Strings("labels");
  return o;
}

KubeletClient::KubeletClient(Options opt) : opt_(std::move(opt)) {}

KubeletClient::~KubeletClient() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void KubeletClient::Start() {
  thread_ = Thread([this] { Loop(); });
}

std::shared_ptr<const PodMap> KubeletClient::Pods() const {
  std::lock_guard<std::mutex> lk(mu_);
  return pods_;
}

void KubeletClient::Wanted() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (wanted_) return;
    wanted_ = true;
  }
  cv_.notify_all();
}

KubeletClient::State KubeletClient::state() const {
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

void KubeletClient::Loop() {
  auto last = std::chrono::steady_clock::now() - opt_.refresh;
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    const auto now = std::chrono::steady_clock::now();
    const auto due = last + (wanted_ ? std::chrono::nanoseconds(kMinGap) : opt_.refresh);
    if (now < due) {
      cv_.wait_until(lk, due);  // woken early by Wanted() or the destructor
      continue;
    }
    wanted_ = false;
    last = now;
    lk.unlock();
    FetchOnce();
    lk.lock();
  }
}

void KubeletClient::FetchOnce() {
  std::string reason, error;
  std::shared_ptr<const PodMap> pods;
  size_t skipped = 0;
  const auto [base, path] = SplitUrl(opt_.url);
  httplib::Client cli(base);
  cli.set_connection_timeout(std::chrono::seconds(5));
  cli.set_read_timeout(std::chrono::seconds(15));
  cli.enable_server_certificate_verification(opt_.tls_verify);
  if (!opt_.ca_file.empty()) cli.set_ca_cert_path(opt_.ca_file.c_str());
  httplib::Headers headers;
  const std::string token = ReadToken(opt_.token_file);
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  auto res = cli.Get(path, headers);
  if (!res) {
    reason = "connect";
    error = fmt::format("GET {}: {}", opt_.url, httplib::to_string(res.error()));
  } else if (res->status != 200) {
    reason = fmt::format("http_{}", res->status);
    error =
        fmt::format("GET {}: HTTP {}{}", opt_.url, res->status,
                    res->status == 401 || res->status == 403
                        ? " (the service account needs get on nodes/proxy; see docs/operations.md)"
                        : "");
  } else if (auto parsed = ParsePodList(res->body, opt_.labels); !parsed.ok()) {
    reason = "parse";
    error = fmt::format("GET {}: {}", opt_.url, parsed.status().message());
  } else {
    skipped = parsed.value().skipped;
    pods = std::make_shared<const PodMap>(std::move(parsed.value().pods));
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (pods) {
    if (!state_.ok) spdlog::info("kubernetes: {} pods from {}", pods->size(), opt_.url);
    if (skipped) spdlog::debug("kubernetes: {} pod list items skipped", skipped);
    pods_ = std::move(pods);
    state_.ok = true;
    ++state_.fetches;
    state_.last_error.clear();
    state_.pods = pods_->size();
  } else {
    if (state_.ok || state_.last_error != error) spdlog::warn("kubernetes: {}", error);
    state_.ok = false;
    ++state_.failures[reason];
    state_.last_error = error;
  }
}

}  // namespace ksight
