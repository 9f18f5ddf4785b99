// RAII for HDF5 identifiers and one checking helper that folds HDF5's error
// stack into an exception. libckpt never lets HDF5 print diagnostics itself.
#ifndef CKPT_DETAIL_H5_HPP
#define CKPT_DETAIL_H5_HPP

#include <ckpt/ckpt.h>

#include <hdf5.h>

#include <string>
#include <vector>

namespace ckpt::detail {

/// Owns one reference to an HDF5 identifier of any kind.
class H5Id {
public:
  H5Id() noexcept = default;
  explicit H5Id(hid_t id) noexcept : m_id(id) {}
  ~H5Id() { reset(); }
  H5Id(H5Id &&other) noexcept : m_id(other.m_id) { other.m_id = H5I_INVALID_HID; }
  H5Id &operator=(H5Id &&other) noexcept {
    if (this != &other) {
      reset();
      m_id = other.m_id;
      other.m_id = H5I_INVALID_HID;
    }
    return *this;
  }
  H5Id(const H5Id &) = delete;
  H5Id &operator=(const H5Id &) = delete;
  [[nodiscard]] hid_t get() const noexcept { return m_id; }
  [[nodiscard]] bool valid() const noexcept { return m_id >= 0; }
  /// Gives up ownership.
  hid_t release() noexcept {
    hid_t id = m_id;
    m_id = H5I_INVALID_HID;
    return id;
  }
  void reset() noexcept {
    if (m_id >= 0) H5Idec_ref(m_id);
    m_id = H5I_INVALID_HID;
  }

private:
  hid_t m_id = H5I_INVALID_HID;
};

/// Turns off HDF5's automatic error printing for the default error stack
/// (libckpt reports every failure itself, through throw_hdf5). Called before
/// each file open/create, so an application that turned printing back on in
/// between does not get libckpt's expected failures (probing a damaged file)
/// as `HDF5-DIAG` noise. The application's own calls are not affected
/// when it uses its own error stack or checks return codes.
void silence_hdf5_errors() noexcept;

/// One frame of HDF5's error stack.
struct Hdf5ErrorFrame {
  hid_t major = H5I_INVALID_HID; ///< major error number, e.g. H5E_FILE
  hid_t minor = H5I_INVALID_HID; ///< minor error number, e.g. H5E_CANTOPENFILE
  std::string function;          ///< HDF5 function that pushed the frame
  std::string description;       ///< its message (file names, errno text)
};
/// The current default error stack, innermost (first pushed) frame first.
std::vector<Hdf5ErrorFrame> hdf5_error_stack();

/// The MPI error class whose MPI_Error_string the text is (or starts with),
/// among the I/O classes; MPI_SUCCESS when none or when MPI is not usable.
int mpi_io_error_class_of_text(const std::string &text) noexcept;
using MpiClassOfText = int (*)(const std::string &);

/// The ckpt status of an HDF5 failure, from the error numbers in its stack:
///  - CKPT_ERR_NO_SPACE: a system error ENOSPC/EDQUOT (sec2-like drivers) or
///    an MPI-IO error of class MPI_ERR_NO_SPACE/MPI_ERR_QUOTA (mpio driver);
///  - CKPT_ERR_IO: the file could not be opened or created (H5E_FILE/
///    H5E_CANTOPENFILE, H5E_FILEEXISTS), any H5E_IO or H5E_VFL error, a
///    read/write/seek/close error, any other system errno or MPI-IO class;
///  - CKPT_ERR_HDF5: everything else (library-level failures).
/// `mpi_class` maps an MPI error string back to its class (tests pass their
/// own; the default asks the MPI library).
ckpt_status classify_hdf5_error(const std::vector<Hdf5ErrorFrame> &stack,
                                MpiClassOfText mpi_class = mpi_io_error_class_of_text);

/// Throws Hdf5Error describing the current HDF5 error stack, prefixed with
/// `what` (the call and file), with the status classify_hdf5_error gives.
[[noreturn]] void throw_hdf5(const std::string &what);
inline hid_t check_h5(hid_t id, const std::string &what) {
  if (id < 0) throw_hdf5(what);
  return id;
}
inline void check_h5_status(herr_t rc, const std::string &what) {
  if (rc < 0) throw_hdf5(what);
}

} // namespace ckpt::detail

#endif
