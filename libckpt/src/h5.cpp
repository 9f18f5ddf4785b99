#include "h5.hpp"

#include "error.hpp"

#include <mutex>

namespace ckpt::detail {
namespace {

herr_t collect(unsigned n, const H5E_error2_t *e, void *data) {
  auto *out = static_cast<std::string *>(data);
  if (n > 6) return 0; // the innermost frames say enough
  *out += "\n    ";
  *out += e->func_name ? e->func_name : "?";
  *out += ": ";
  *out += e->desc ? e->desc : "";
  return 0;
}

} // namespace

void silence_hdf5_errors() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void throw_hdf5(const std::string &what) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &stack);
  H5Eclear2(H5E_DEFAULT);
  ckpt_status status = CKPT_ERR_HDF5;
  if (stack.find("No space left") != std::string::npos ||
      stack.find("Disk quota") != std::string::npos || stack.find("NO_SPACE") != std::string::npos)
    status = CKPT_ERR_NO_SPACE;
  else if (stack.find("unable to open file") != std::string::npos ||
           stack.find("unable to truncate a file") != std::string::npos ||
           stack.find("Permission denied") != std::string::npos ||
           stack.find("Read-only file system") != std::string::npos)
    status = CKPT_ERR_IO;
  throw Hdf5Error(status, what + (stack.empty() ? "" : " (HDF5:" + stack + ")"));
}

} // namespace ckpt::detail
