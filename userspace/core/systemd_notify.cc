#include "core/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>

#include <string>

namespace ksight {

SystemdNotifier::SystemdNotifier() {
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is ours).
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ns_ = usec * 1000 / 2;
}

void SystemdNotifier::Ready(std::string_view status) {
  const int r = sd_notify(0, fmt::format("READY=1\nSTATUS={}", status).c_str());
  if (r < 0) spdlog::warn("sd_notify(READY=1) failed: {}", std::strerror(-r));
}

void SystemdNotifier::Status(std::string_view status) {
  sd_notify(0, fmt::format("STATUS={}", status).c_str());
}

void SystemdNotifier::Stopping(std::string_view status) {
  sd_notify(0, fmt::format("STOPPING=1\nSTATUS={}", status).c_str());
}

void SystemdNotifier::Ping(uint64_t boot_ns) {
  sd_notify(0, "WATCHDOG=1");
  next_ping_ns_ = boot_ns + watchdog_ns_;
}

}  // namespace ksight
