// process_info.h - the "process" object of a record and the workload identity that goes with it
// (core/workload_identity.h).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/json_writer.h"
#include "core/workload_identity.h"

extern "C" {
#include "ksight_abi.h"
}

namespace ksight {

// The kernel's comm (NUL-padded, maybe unterminated) as a string_view.
std::string_view CommView(const char (&comm)[KS_COMM_LEN]);

bool ProcessExists(uint32_t pid);

// "process":{"pid":..,"tid":..,"comm":"..","cgroup_id":..[,"container_id":".."][,"source":..]}
// then the record's "container" and "k8s" objects (WriteIdentity); source "" is omitted.
void WriteProcess(JsonWriter& w, const ks_task& t, IdentityCache& identity,
                  std::string_view source = {});

}  // namespace ksight
