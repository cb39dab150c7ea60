// systemd_notify.h - Type=notify support (libsystemd's sd_notify): READY=1
// once every probe is attached, WATCHDOG=1 from the main loop at half of
// WatchdogSec, STOPPING=1 on shutdown. Every call is a no-op when the agent
// was not started by systemd (no NOTIFY_SOCKET).
#pragma once

#include <cstdint>
#include <string_view>

namespace ksight {

class SystemdNotifier {
 public:
  SystemdNotifier();
  void Ready(std::string_view status);
  void Status(std::string_view status);
  void Stopping(std::string_view status);
  // From the main loop: sends WATCHDOG=1 when half the watchdog interval passed.
  void Tick(uint64_t boot_ns) {
    if (watchdog_ns_ != 0 && boot_ns >= next_ping_ns_) Ping(boot_ns);
  }
  uint64_t watchdog_ns() const { return watchdog_ns_; }

 private:
  void Ping(uint64_t boot_ns);
  uint64_t watchdog_ns_ = 0;  // the ping period: half of WATCHDOG_USEC
  uint64_t next_ping_ns_ = 0;
};

}  // namespace ksight
