#include "topology.hpp"

#include <hwloc.h>
#include <unistd.h>

#include <cstdio>

namespace ckpt::detail {

std::string node_topology_summary() noexcept {
  try {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::string out = std::string("host=") + host;
    hwloc_topology_t topo = nullptr;
    if (hwloc_topology_init(&topo) != 0) return out;
    if (hwloc_topology_load(topo) == 0) {
      auto count = [&](hwloc_obj_type_t t) { return hwloc_get_nbobjs_by_type(topo, t); };
      const hwloc_obj_t root = hwloc_get_root_obj(topo);
      char buf[256];
      std::snprintf(buf, sizeof buf, " packages=%d numa=%d cores=%d pus=%d memory=%.1fGiB",
                    count(HWLOC_OBJ_PACKAGE), count(HWLOC_OBJ_NUMANODE), count(HWLOC_OBJ_CORE),
                    count(HWLOC_OBJ_PU),
                    root ? double(root->total_memory) / (1024.0 * 1024.0 * 1024.0) : 0.0);
      out += buf;
      if (const char *arch = hwloc_obj_get_info_by_name(root, "Architecture"))
        out += std::string(" arch=") + arch;
      hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
      if (pkg)
        if (const char *model = hwloc_obj_get_info_by_name(pkg, "CPUModel"))
          out += std::string(" cpu=\"") + model + "\"";
    }
    hwloc_topology_destroy(topo);
    return out;
  } catch (...) {
    return "unknown";
  }
}

} // namespace ckpt::detail
