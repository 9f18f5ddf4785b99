// HDF5 failures are classified by the error numbers of HDF5's error stack
// (major/minor classes, the errno of system-level frames, the MPI error
// class of MPI-IO frames), not by matching English messages. No MPI needed:
// the real failures below use HDF5's default (sec2) driver.
#include "error.hpp"
#include "h5.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace ckpt::detail {
namespace {

struct Hdf5Test : ::testing::Test {
  void SetUp() override {
    H5open();
    silence_hdf5_errors();
  }
  static ckpt_status status_of_failed(hid_t id) {
    EXPECT_LT(id, 0);
    return classify_hdf5_error(hdf5_error_stack());
  }
  static std::string message_of_throw(const std::string &what, ckpt_status *status) {
    try {
      throw_hdf5(what);
    } catch (const Hdf5Error &e) {
      *status = e.status();
      return e.what();
    }
    return {};
  }
};

bool has_frame(const std::vector<Hdf5ErrorFrame> &stack, hid_t major, hid_t minor) {
  for (const auto &f : stack)
    if (f.major == major && f.minor == minor) return true;
  return false;
}

TEST_F(Hdf5Test, MissingFileIsAnIoErrorWithItsNameInTheMessage) {
  const std::string path = "/nonexistent-dir/ckpt.v000001.h5";
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_LT(f, 0);
  const auto stack = hdf5_error_stack();
  EXPECT_TRUE(has_frame(stack, H5E_FILE, H5E_CANTOPENFILE));
  EXPECT_EQ(classify_hdf5_error(stack), CKPT_ERR_IO);
  ckpt_status status = CKPT_SUCCESS;
  const std::string msg = message_of_throw("H5Fopen " + path, &status);
  EXPECT_EQ(status, CKPT_ERR_IO);
  EXPECT_NE(msg.find("H5Fopen /nonexistent-dir/ckpt.v000001.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(HDF5:"), std::string::npos) << msg;
}

TEST_F(Hdf5Test, FileThatIsNotHdf5IsAnIoError) {
  const std::string path = ::testing::TempDir() + "ckpt_not_hdf5.h5";
  std::ofstream(path) << "this is not an HDF5 file\n";
  EXPECT_EQ(status_of_failed(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), CKPT_ERR_IO);
  H5Eclear2(H5E_DEFAULT);
  std::remove(path.c_str());
}

TEST_F(Hdf5Test, FullDeviceIsNoSpace) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full is not writable here";
  // Creating the file writes its superblock: ENOSPC, from the sec2 driver.
  const hid_t f = H5Fcreate("/dev/full", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f >= 0) { // a library version that defers the write: flush it
    const herr_t flushed = H5Fflush(f, H5F_SCOPE_LOCAL);
    EXPECT_LT(flushed, 0);
  }
  const auto stack = hdf5_error_stack();
  EXPECT_EQ(classify_hdf5_error(stack), CKPT_ERR_NO_SPACE);
  H5Eclear2(H5E_DEFAULT);
  if (f >= 0) H5Fclose(f); // fails again (ENOSPC): nothing more to check
  H5Eclear2(H5E_DEFAULT);
}

TEST_F(Hdf5Test, LibraryLevelFailureIsAnHdf5Error) {
  EXPECT_EQ(status_of_failed(H5Dopen2(-1, "/nothing", H5P_DEFAULT)), CKPT_ERR_HDF5);
  H5Eclear2(H5E_DEFAULT);
}

// The mpio driver keeps only MPI_Error_string(code); the mapping asks the
// MPI library which class that string belongs to (here: a stand-in).
int fake_mpi_class(const std::string &text) {
  if (text == "no space") return MPI_ERR_NO_SPACE;
  if (text == "quota") return MPI_ERR_QUOTA;
  if (text == "access") return MPI_ERR_ACCESS;
  return MPI_SUCCESS;
}

TEST_F(Hdf5Test, MpiIoFramesAreClassifiedByTheirMpiErrorClass) {
  const auto frame = [](const char *desc) {
    return std::vector<Hdf5ErrorFrame>{
        {H5E_INTERNAL, H5E_MPIERRSTR, "H5FD_mpio_write", desc},
        {H5E_INTERNAL, H5E_MPI, "H5FD_mpio_write", "MPI_File_write_at_all failed"},
        {H5E_DATASET, H5E_WRITEERROR, "H5Dwrite", "can't write data"}};
  };
  EXPECT_EQ(classify_hdf5_error(frame("no space"), fake_mpi_class), CKPT_ERR_NO_SPACE);
  EXPECT_EQ(classify_hdf5_error(frame("quota"), fake_mpi_class), CKPT_ERR_NO_SPACE);
  EXPECT_EQ(classify_hdf5_error(frame("access"), fake_mpi_class), CKPT_ERR_IO);
}

TEST_F(Hdf5Test, MessagesAloneDecideNothing) {
  // English text without the numbers behind it is not a cause.
  const std::vector<Hdf5ErrorFrame> stack{
      {H5E_DATASET, H5E_CANTINIT, "H5D__init", "No space left on device, Permission denied"}};
  EXPECT_EQ(classify_hdf5_error(stack, fake_mpi_class), CKPT_ERR_HDF5);
  // A system frame's errno is a number: ENOSPC is no space, others are I/O.
  const std::vector<Hdf5ErrorFrame> enospc{{H5E_IO, H5E_WRITEERROR, "H5FD_sec2_write",
                                            "file write failed: errno = 28, error message = 'x'"}};
  EXPECT_EQ(classify_hdf5_error(enospc, fake_mpi_class), CKPT_ERR_NO_SPACE);
  const std::vector<Hdf5ErrorFrame> eacces{
      {H5E_FILE, H5E_CANTOPENFILE, "H5FD_sec2_open", "unable to open file: errno = 13"}};
  EXPECT_EQ(classify_hdf5_error(eacces, fake_mpi_class), CKPT_ERR_IO);
}

TEST_F(Hdf5Test, SilencedLibraryPrintsNoDiagnostics) {
  H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr);
  silence_hdf5_errors();
  ::testing::internal::CaptureStderr();
  const hid_t f = H5Fopen("/nonexistent-dir/x.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_LT(f, 0);
  H5Eclear2(H5E_DEFAULT);
  EXPECT_EQ(err.find("HDF5-DIAG"), std::string::npos) << err;
}

} // namespace
} // namespace ckpt::detail
