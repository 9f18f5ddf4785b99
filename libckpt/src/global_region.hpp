// Global regions: a protected region that is one rank's piece of an
// N-dimensional, row-major global array (docs/FORMAT.md, section 2.5). No
// MPI, no HDF5:
//
//   Box           a rank's piece: offset and extent in the global array
//   PieceRow      one row of /pieces: the global shape and one rank's box
//   check_tiling  the pieces of one region must tile its global array
//   PieceCopy     which elements of an old piece go where in a new one
#ifndef CKPT_DETAIL_GLOBAL_REGION_HPP
#define CKPT_DETAIL_GLOBAL_REGION_HPP

#include <ckpt/ckpt.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

constexpr int k_max_global_dims = 3;

/// A box of a `ndims`-dimensional array: [offset, offset + dims) per dimension.
struct Box {
  int ndims = 0;
  std::uint64_t offset[k_max_global_dims] = {0, 0, 0};
  std::uint64_t dims[k_max_global_dims] = {0, 0, 0};

  [[nodiscard]] std::uint64_t count() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return count() == 0; }
  /// Row-major position of global coordinate `x` (inside the box) in the box.
  [[nodiscard]] std::uint64_t linear(const std::uint64_t *x) const noexcept;
  /// "[0:4, 8:16]" (half-open, per dimension).
  [[nodiscard]] std::string text() const;
  bool operator==(const Box &other) const noexcept;
};

/// The part two boxes of the same array have in common (possibly empty).
Box intersect(const Box &a, const Box &b) noexcept;

/// One row of /pieces (plain data, sent between ranks as bytes): the
/// global shape of region `region_id` and the box rank `rank` holds.
struct PieceRow {
  std::int32_t rank = 0;
  std::int32_t region_id = 0;
  char name[64] = {};
  std::int32_t type = 0;
  std::int32_t ndims = 0;
  std::uint64_t global_dims[k_max_global_dims] = {0, 0, 0};
  std::uint64_t offset[k_max_global_dims] = {0, 0, 0};
  std::uint64_t dims[k_max_global_dims] = {0, 0, 0};

  [[nodiscard]] Box box() const noexcept;
  [[nodiscard]] Box global_box() const noexcept;
};

/// Checks one rank's declaration: 1 to 3 dimensions, the box inside the
/// global array, a typed element (not bytes), a name that can be an HDF5
/// dataset name (letters, digits, '_', '-', '.', '+', not starting with '.'). Returns the row (rank
/// and name filled in); throws ArgumentError naming `context`.
PieceRow make_piece(std::int32_t rank, int id, const std::string &name, ckpt_type type, int ndims,
                    const std::uint64_t *global_dims, const std::uint64_t *offset,
                    const std::uint64_t *local_dims, const std::string &context);

/// Checks that `pieces` (every row of every rank, any order) describe, for
/// each region id, one global shape declared by every one of `nranks` ranks
/// whose boxes tile it without overlap. Throws MismatchError naming the
/// region and the rank(s) at fault; `where` says whose pieces these are.
void check_tiling(const std::vector<PieceRow> &pieces, std::int32_t nranks,
                  const std::string &where);

/// Copies the elements of `from` that lie in `to` and whose row-major
/// position in `from` is in [first, end) from `src` (which holds elements
/// [first, end) of `from`) into `dst` (the row-major elements of `to`).
void copy_box(const Box &from, const unsigned char *src, std::uint64_t first, std::uint64_t end,
              const Box &to, unsigned char *dst, std::uint64_t elem_size);

/// The elements [first, last) of `box` (row-major) as at most 2 * ndims - 1
/// boxes in the same array, in row-major order.
std::vector<Box> boxes_of_range(const Box &box, std::uint64_t first, std::uint64_t last);

/// The elements of `box` that lie in `part` (inside `box`), as the row-major
/// range [first, last] of `box`; `part` must not be empty.
std::pair<std::uint64_t, std::uint64_t> linear_range(const Box &box, const Box &part) noexcept;

} // namespace ckpt::detail

#endif
