// RAII for HDF5 identifiers and one checking helper that folds HDF5's error
// stack into an exception. libckpt never lets HDF5 print diagnostics itself.
#ifndef CKPT_DETAIL_H5_HPP
#define CKPT_DETAIL_H5_HPP

#include <hdf5.h>

#include <string>

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

/// Turns off HDF5's automatic error printing (once per process).
void silence_hdf5_errors() noexcept;
/// Throws Hdf5Error (or IoError for ENOSPC/EIO-like causes) describing the
/// current HDF5 error stack, prefixed with `what`.
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
