# The pure sources (no libbpf): every userspace/core/*.cc but the agent's own files, and every
# userspace/probes/*.cc and userspace/probes/<probe>/*.cc but the loaders (*_probe.cc,
# registry.cc). One list for the two builds that
# need it: ksight_pure (CMakeLists.txt, g++) and the fuzz library (tests/fuzz, clang++).
# A new pure file needs no edit anywhere; a new non-pure core file (e.g. agent_loop.cc) is
# excluded by the pattern below or must be added to it.
# Usage: ksight_pure_sources(<out var> <source root>)
function(ksight_pure_sources out root)
  file(GLOB core CONFIGURE_DEPENDS ${root}/userspace/core/*.cc)
  list(FILTER core EXCLUDE REGEX
    ".*/(loader|agent[^/]*|host_features|main|metrics_server|systemd_notify|privileges|kubelet_client)\\.cc$")
  file(GLOB probes CONFIGURE_DEPENDS ${root}/userspace/probes/*.cc ${root}/userspace/probes/*/*.cc)
  list(FILTER probes EXCLUDE REGEX ".*(_probe|/registry)\\.cc$")
  set(${out} ${core} ${probes} PARENT_SCOPE)
endfunction()
