// xid_codes.cc - the parts of the Xid/SXid tables that read messages or pick by range.
#include "probes/gpu/xid_codes.h"

namespace ksight::gpu {
namespace {

struct SxidUnit {
  int base;  // first code of the unit (multiple of 1000)
  std::string_view unit;
};

// NVSWITCH_ERR_TYPE (ctrl_dev_nvswitch.h), one unit per thousand.
constexpr std::array kSxidUnits = {
    SxidUnit{10000, "host"},
    SxidUnit{11000, "NPORT ingress"},
    SxidUnit{12000, "NPORT egress"},
    SxidUnit{13000, "NPORT fstate"},
    SxidUnit{14000, "NPORT tstate"},
    SxidUnit{15000, "NPORT route"},
    SxidUnit{16000, "NPORT"},
    SxidUnit{17000, "NVLCTRL"},
    SxidUnit{18000, "NVLIPT"},
    SxidUnit{19000, "NVLTLC"},
    SxidUnit{20000, "DLPL (link layer)"},
    SxidUnit{21000, "AFS"},
    SxidUnit{22000, "MINION"},
    SxidUnit{23000, "NXBAR"},
    SxidUnit{24000, "NPORT sourcetrack"},
    SxidUnit{25000, "NVLIPT link"},
    SxidUnit{26000, "SOE"},
    SxidUnit{27000, "CCI"},
    SxidUnit{28000, "OSFP thermal"},
    SxidUnit{29000, "NPORT multicast tstate"},
    SxidUnit{30000, "NPORT reduction tstate"},
};

constexpr int kSxidHostThermalShutdown = 10006;  // NVSWITCH_ERR_HW_HOST_THERMAL_SHUTDOWN
constexpr int kSxidOsfpOvertActivated = 28003;   // NVSWITCH_ERR_HW_OSFP_THERM_OVERT_ACTIVATED

constexpr std::string_view kSxidFatalAction =
    "fatal to the fabric: drain the GPUs behind this switch, reset the switch and GPUs (or "
    "reboot) and restart Fabric Manager; RMA the switch tray if it recurs";
constexpr std::string_view kSxidNonFatalAction =
    "non-fatal, contained by the switch: no action unless it repeats; then check the link it "
    "names";
constexpr std::string_view kSxidUnknownAction =
    "see the first line of this SXid (Fatal or Non-fatal) and NVIDIA's SXid catalog";

}  // namespace

std::optional<std::string_view> XidRecoveryAction(std::string_view message) {
  constexpr std::string_view kPrefix = "GPU recovery action changed from ";
  size_t at = message.find(kPrefix);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(at + kPrefix.size());
  size_t to = rest.find(" to ");
  if (to == std::string_view::npos) return std::nullopt;
  rest = rest.substr(to + 4);
  size_t open = rest.find('(');
  size_t close = rest.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close <= open + 1) {
    return std::nullopt;
  }
  return rest.substr(open + 1, close - open - 1);
}

Severity XidSeverity(int code, std::string_view message) {
  XidInfo info = LookupXid(code);
  if (code == 154) {
    auto action = XidRecoveryAction(message);
    if (action && *action == "None") return Severity::kInfo;
  }
  return info.severity;
}

SxidInfo LookupSxid(int code, std::optional<bool> fatal) {
  SxidInfo info{code, "unknown", Severity::kWarning, kSxidUnknownAction};
  for (const SxidUnit& u : kSxidUnits) {
    if (code >= u.base && code < u.base + 1000) {
      info.unit = u.unit;
      break;
    }
  }
  if (fatal.has_value()) {
    info.severity = *fatal ? Severity::kCritical : Severity::kWarning;
    info.action = *fatal ? kSxidFatalAction : kSxidNonFatalAction;
  }
  if (code == kSxidHostThermalShutdown || code == kSxidOsfpOvertActivated) {
    info.severity = Severity::kCritical;
    info.action =
        "thermal shutdown/over-temperature: check cooling and the switch tray, then "
        "reset the switch and restart Fabric Manager";
  }
  return info;
}

}  // namespace ksight::gpu
