#include "global_region.hpp"

#include "error.hpp"
#include "region.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

namespace ckpt::detail {

std::uint64_t Box::count() const noexcept {
  std::uint64_t n = ndims > 0 ? 1 : 0;
  for (int d = 0; d < ndims; ++d)
    n *= dims[d];
  return n;
}

std::uint64_t Box::linear(const std::uint64_t *x) const noexcept {
  std::uint64_t pos = 0;
  for (int d = 0; d < ndims; ++d)
    pos = pos * dims[d] + (x[d] - offset[d]);
  return pos;
}

std::string Box::text() const {
  std::string s = "[";
  for (int d = 0; d < ndims; ++d)
    s += (d ? ", " : "") + std::to_string(offset[d]) + ":" + std::to_string(offset[d] + dims[d]);
  return s + "]";
}

bool Box::operator==(const Box &other) const noexcept {
  if (ndims != other.ndims) return false;
  for (int d = 0; d < ndims; ++d)
    if (offset[d] != other.offset[d] || dims[d] != other.dims[d]) return false;
  return true;
}

Box intersect(const Box &a, const Box &b) noexcept {
  Box out;
  out.ndims = a.ndims;
  for (int d = 0; d < a.ndims; ++d) {
    const std::uint64_t lo = std::max(a.offset[d], b.offset[d]);
    const std::uint64_t hi = std::min(a.offset[d] + a.dims[d], b.offset[d] + b.dims[d]);
    out.offset[d] = lo;
    out.dims[d] = hi > lo ? hi - lo : 0;
  }
  return out;
}

Box PieceRow::box() const noexcept {
  Box b;
  b.ndims = ndims;
  for (int d = 0; d < ndims && d < k_max_global_dims; ++d) {
    b.offset[d] = offset[d];
    b.dims[d] = dims[d];
  }
  return b;
}

Box PieceRow::global_box() const noexcept {
  Box b;
  b.ndims = ndims;
  for (int d = 0; d < ndims && d < k_max_global_dims; ++d)
    b.dims[d] = global_dims[d];
  return b;
}

namespace {

std::string piece_text(const PieceRow &p) {
  return "rank " + std::to_string(p.rank) + " global region " + std::to_string(p.region_id) + " '" +
         std::string(p.name, strnlen(p.name, sizeof p.name)) + "'";
}

std::string shape_text(const PieceRow &p) {
  std::string s = std::string(type_name(static_cast<ckpt_type>(p.type))) + "[";
  for (int d = 0; d < p.ndims; ++d)
    s += (d ? " x " : "") + std::to_string(p.global_dims[d]);
  return s + "]";
}

/// The checks of one row on its own; an empty string when it is valid.
std::string row_problem(const PieceRow &p) {
  if (p.ndims < 1 || p.ndims > k_max_global_dims)
    return "has " + std::to_string(p.ndims) + " dimensions (1 to 3 allowed)";
  if (p.type < CKPT_CHAR || p.type > CKPT_DOUBLE)
    return "has element type code " + std::to_string(p.type) + " (a typed element is required)";
  std::uint64_t total = 1;
  for (int d = 0; d < p.ndims; ++d) {
    if (p.global_dims[d] == 0) return "has a global extent of 0 in dimension " + std::to_string(d);
    if (p.offset[d] > p.global_dims[d] || p.dims[d] > p.global_dims[d] - p.offset[d])
      return "holds " + p.box().text() + ", outside the global array " + shape_text(p);
    if (total > UINT64_MAX / p.global_dims[d]) return "has a global array too large to address";
    total *= p.global_dims[d];
  }
  if (p.name[sizeof p.name - 1] != '\0' || p.name[0] == '\0' || p.name[0] == '.')
    return "has no valid name";
  for (const char *c = p.name; *c; ++c)
    if (!std::isalnum(static_cast<unsigned char>(*c)) && !std::strchr("_-.+", *c))
      return "has a name that is not letters, digits, '_', '-', '.' and '+'";
  return {};
}

} // namespace

PieceRow make_piece(std::int32_t rank, int id, const std::string &name, ckpt_type type, int ndims,
                    const std::uint64_t *global_dims, const std::uint64_t *offset,
                    const std::uint64_t *local_dims, const std::string &context) {
  if (ndims < 1 || ndims > k_max_global_dims)
    throw ArgumentError(context + ": " + std::to_string(ndims) +
                        " dimensions; a global region has 1 to 3");
  if (!global_dims || !offset || !local_dims)
    throw ArgumentError(context + ": null dimension array");
  if (type == CKPT_BYTE)
    throw ArgumentError(context + ": a global region needs a typed element (not CKPT_BYTE)");
  PieceRow p;
  p.rank = rank;
  p.region_id = id;
  std::strncpy(p.name, name.c_str(), sizeof p.name - 1);
  p.type = static_cast<std::int32_t>(type);
  p.ndims = ndims;
  for (int d = 0; d < ndims; ++d) {
    p.global_dims[d] = global_dims[d];
    p.offset[d] = offset[d];
    p.dims[d] = local_dims[d];
  }
  if (const std::string why = row_problem(p); !why.empty())
    throw ArgumentError(context + ": the piece " + why);
  return p;
}

void check_tiling(const std::vector<PieceRow> &pieces, std::int32_t nranks,
                  const std::string &where) {
  std::map<int, std::vector<const PieceRow *>> by_region;
  for (const PieceRow &p : pieces) {
    if (const std::string why = row_problem(p); !why.empty())
      throw MismatchError(where + ": " + piece_text(p) + " " + why);
    if (p.rank < 0 || p.rank >= nranks)
      throw MismatchError(where + ": " + piece_text(p) + ": rank out of range (" +
                          std::to_string(nranks) + " ranks)");
    by_region[p.region_id].push_back(&p);
  }
  for (auto &[id, rows] : by_region) {
    const PieceRow &first = *rows.front();
    std::vector<const PieceRow *> of_rank(static_cast<std::size_t>(nranks), nullptr);
    for (const PieceRow *p : rows) {
      if (std::strncmp(p->name, first.name, sizeof p->name) != 0 || p->type != first.type ||
          p->ndims != first.ndims ||
          !std::equal(p->global_dims, p->global_dims + p->ndims, first.global_dims))
        throw MismatchError(where + ": " + piece_text(*p) + " is declared as " + shape_text(*p) +
                            " but " + piece_text(first) + " as " + shape_text(first));
      if (of_rank[static_cast<std::size_t>(p->rank)])
        throw MismatchError(where + ": " + piece_text(*p) + " is declared twice");
      of_rank[static_cast<std::size_t>(p->rank)] = p;
    }
    for (std::int32_t r = 0; r < nranks; ++r)
      if (!of_rank[static_cast<std::size_t>(r)])
        throw MismatchError(where + ": " + piece_text(first) + " is global but rank " +
                            std::to_string(r) +
                            " does not declare a piece of it (declare an empty one)");
    // No two boxes overlap (sweep along dimension 0), and together they hold
    // as many elements as the array: then they tile it.
    std::vector<const PieceRow *> sorted;
    std::uint64_t total = 0;
    for (const PieceRow *p : rows)
      if (!p->box().empty()) {
        sorted.push_back(p);
        total += p->box().count();
      }
    std::sort(sorted.begin(), sorted.end(), [](const PieceRow *a, const PieceRow *b) {
      return a->offset[0] < b->offset[0] || (a->offset[0] == b->offset[0] && a->rank < b->rank);
    });
    for (std::size_t i = 0; i < sorted.size(); ++i)
      for (std::size_t j = i + 1;
           j < sorted.size() && sorted[j]->offset[0] < sorted[i]->offset[0] + sorted[i]->dims[0];
           ++j)
        if (!intersect(sorted[i]->box(), sorted[j]->box()).empty())
          throw MismatchError(where + ": the pieces of " + piece_text(*sorted[i]) + " " +
                              sorted[i]->box().text() + " and rank " +
                              std::to_string(sorted[j]->rank) + " " + sorted[j]->box().text() +
                              " overlap");
    if (total != first.global_box().count())
      throw MismatchError(where + ": the pieces of global region " + std::to_string(id) + " '" +
                          std::string(first.name, strnlen(first.name, sizeof first.name)) +
                          "' hold " + std::to_string(total) + " elements but the global array " +
                          shape_text(first) + " has " + std::to_string(first.global_box().count()) +
                          ": some part is not owned");
  }
}

std::pair<std::uint64_t, std::uint64_t> linear_range(const Box &box, const Box &part) noexcept {
  std::uint64_t lo[k_max_global_dims], hi[k_max_global_dims];
  for (int d = 0; d < box.ndims; ++d) {
    lo[d] = part.offset[d];
    hi[d] = part.offset[d] + part.dims[d] - 1;
  }
  return {box.linear(lo), box.linear(hi)};
}

namespace {

/// Appends the boxes of elements [first, last) of the sub-box of `box`
/// below dimension `dim`, whose leading coordinates are `prefix`.
void range_boxes(const Box &box, int dim, std::uint64_t *prefix, std::uint64_t first,
                 std::uint64_t last, std::vector<Box> &out) {
  if (first >= last) return;
  std::uint64_t inner = 1; // elements per index of dimension `dim`
  for (int d = dim + 1; d < box.ndims; ++d)
    inner *= box.dims[d];
  auto emit = [&](std::uint64_t i0, std::uint64_t n) {
    Box b = box;
    for (int d = 0; d < dim; ++d) {
      b.offset[d] = box.offset[d] + prefix[d];
      b.dims[d] = 1;
    }
    b.offset[dim] = box.offset[dim] + i0;
    b.dims[dim] = n;
    out.push_back(b);
  };
  const std::uint64_t i_first = first / inner, i_last = (last - 1) / inner;
  if (i_first == i_last && (first % inner != 0 || last % inner != 0 || dim + 1 == box.ndims)) {
    if (dim + 1 == box.ndims) {
      emit(first, last - first);
      return;
    }
    prefix[dim] = i_first;
    range_boxes(box, dim + 1, prefix, first - i_first * inner, last - i_first * inner, out);
    return;
  }
  // A partial head, whole indices, a partial tail.
  std::uint64_t whole_from = i_first, whole_to = i_last + 1;
  if (first % inner != 0) {
    prefix[dim] = i_first;
    range_boxes(box, dim + 1, prefix, first - i_first * inner, inner, out);
    whole_from = i_first + 1;
  }
  const bool tail = last % inner != 0;
  if (tail) whole_to = i_last;
  if (whole_to > whole_from) emit(whole_from, whole_to - whole_from);
  if (tail) {
    prefix[dim] = i_last;
    range_boxes(box, dim + 1, prefix, 0, last - i_last * inner, out);
  }
}

} // namespace

std::vector<Box> boxes_of_range(const Box &box, std::uint64_t first, std::uint64_t last) {
  std::vector<Box> out;
  std::uint64_t prefix[k_max_global_dims] = {0, 0, 0};
  if (box.ndims > 0) range_boxes(box, 0, prefix, first, last, out);
  return out;
}

void copy_box(const Box &from, const unsigned char *src, std::uint64_t first, std::uint64_t end,
              const Box &to, unsigned char *dst, std::uint64_t elem_size) {
  const Box common = intersect(from, to);
  if (common.empty()) return;
  const int n = common.ndims;
  // Runs along the last dimension, in row-major order of `common`, each
  // clipped to the elements `src` holds.
  const std::uint64_t run = common.dims[n - 1];
  std::uint64_t x[k_max_global_dims] = {0, 0, 0};
  for (int d = 0; d < n; ++d)
    x[d] = common.offset[d];
  const std::uint64_t rows = common.count() / run;
  for (std::uint64_t r = 0; r < rows; ++r) {
    const std::uint64_t s = from.linear(x);
    const std::uint64_t a = std::max(s, first), b = std::min(s + run, end);
    if (a < b)
      std::memcpy(dst + (to.linear(x) + (a - s)) * elem_size, src + (a - first) * elem_size,
                  (b - a) * elem_size);
    for (int d = n - 2; d >= 0; --d) {
      if (++x[d] < common.offset[d] + common.dims[d]) break;
      x[d] = common.offset[d];
    }
  }
}

} // namespace ckpt::detail
