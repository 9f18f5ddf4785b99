#include "h5.hpp"

#include "error.hpp"

#include <mpi.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ckpt::detail {
namespace {

herr_t collect(unsigned, const H5E_error2_t *e, void *data) {
  auto *out = static_cast<std::vector<Hdf5ErrorFrame> *>(data);
  out->push_back(
      {e->maj_num, e->min_num, e->func_name ? e->func_name : "?", e->desc ? e->desc : ""});
  return 0;
}

/// The errno a system-level HDF5 frame reports, 0 if none.
///
/// Why text: the sec2/core/log drivers push a frame (HSYS_ERROR) whose only
/// record of errno is its formatted description ("..., errno = 28, error
/// message = 'No space left on device', ..."); H5E_error2_t has no numeric
/// field for it. So the number, not the message, is read back from there,
/// and only in frames of the file, I/O and driver classes.
int errno_of(const Hdf5ErrorFrame &f) {
  if (f.major != H5E_IO && f.major != H5E_FILE && f.major != H5E_VFL) return 0;
  const char *key = "errno = ";
  const std::size_t at = f.description.find(key);
  if (at == std::string::npos) return 0;
  const char *p = f.description.c_str() + at + std::strlen(key);
  char *end = nullptr;
  const long v = std::strtol(p, &end, 10);
  return (end != p && v > 0 && v < 4096) ? static_cast<int>(v) : 0;
}

bool is_io_minor(hid_t minor) {
  return minor == H5E_CANTOPENFILE || minor == H5E_FILEEXISTS || minor == H5E_READERROR ||
         minor == H5E_WRITEERROR || minor == H5E_SEEKERROR || minor == H5E_CLOSEERROR ||
         minor == H5E_CANTCLOSEFILE || minor == H5E_TRUNCATED;
}

} // namespace

void silence_hdf5_errors() noexcept { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::vector<Hdf5ErrorFrame> hdf5_error_stack() {
  std::vector<Hdf5ErrorFrame> frames;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &frames);
  return frames;
}

int mpi_io_error_class_of_text(const std::string &text) noexcept {
  // The mpio driver keeps only MPI_Error_string(code) of a failed MPI-IO
  // call (HMPI_ERROR pushes it as H5E_INTERNAL/H5E_MPIERRSTR; the code is
  // discarded). Recover the class by comparing with the strings this MPI
  // library gives for each I/O class: the library's own text, not English
  // phrases guessed here.
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return MPI_SUCCESS;
  static const int classes[] = {MPI_ERR_NO_SPACE,  MPI_ERR_QUOTA,        MPI_ERR_ACCESS,
                                MPI_ERR_READ_ONLY, MPI_ERR_NO_SUCH_FILE, MPI_ERR_FILE_EXISTS,
                                MPI_ERR_BAD_FILE,  MPI_ERR_FILE_IN_USE,  MPI_ERR_IO,
                                MPI_ERR_FILE};
  for (int cls : classes) {
    char buf[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(cls, buf, &len) != MPI_SUCCESS || len <= 0) continue;
    if (text.compare(0, static_cast<std::size_t>(len), buf, static_cast<std::size_t>(len)) == 0)
      return cls;
  }
  return MPI_SUCCESS;
}

ckpt_status classify_hdf5_error(const std::vector<Hdf5ErrorFrame> &stack,
                                MpiClassOfText mpi_class) {
  bool io = false;
  for (const Hdf5ErrorFrame &f : stack) {
    if (const int err = errno_of(f)) {
      if (status_from_errno(err) == CKPT_ERR_NO_SPACE) return CKPT_ERR_NO_SPACE;
      io = true;
    }
    if (f.major == H5E_INTERNAL && f.minor == H5E_MPIERRSTR && mpi_class) {
      const int cls = mpi_class(f.description);
      if (cls == MPI_ERR_NO_SPACE || cls == MPI_ERR_QUOTA) return CKPT_ERR_NO_SPACE;
      if (cls != MPI_SUCCESS) io = true;
    }
    if (f.major == H5E_IO || f.major == H5E_VFL || is_io_minor(f.minor)) io = true;
  }
  return io ? CKPT_ERR_IO : CKPT_ERR_HDF5;
}

void throw_hdf5(const std::string &what) {
  const std::vector<Hdf5ErrorFrame> stack = hdf5_error_stack();
  H5Eclear2(H5E_DEFAULT);
  const ckpt_status status = classify_hdf5_error(stack);
  std::string text;
  for (std::size_t i = 0; i < stack.size() && i <= 6; ++i) // the innermost frames say enough
    text += "\n    " + stack[i].function + ": " + stack[i].description;
  throw Hdf5Error(status, what + (text.empty() ? "" : " (HDF5:" + text + ")"));
}

} // namespace ckpt::detail
