#include "region.hpp"

#include "error.hpp"

#include <cstdint>

namespace ckpt::detail {

std::size_t type_size(ckpt_type type) {
  switch (type) {
  case CKPT_BYTE:
  case CKPT_CHAR: return 1;
  case CKPT_INT32:
  case CKPT_UINT32:
  case CKPT_FLOAT: return 4;
  case CKPT_INT64:
  case CKPT_UINT64:
  case CKPT_DOUBLE: return 8;
  }
  throw ArgumentError("unknown ckpt_type value " + std::to_string(static_cast<int>(type)));
}

ckpt_type type_from_integer(long long value, const std::string &context) {
  if (value < CKPT_BYTE || value > CKPT_DOUBLE)
    throw ArgumentError(context + ": unknown ckpt_type value " + std::to_string(value) +
                        " (valid: " + std::to_string(CKPT_BYTE) + " to " +
                        std::to_string(CKPT_DOUBLE) + ")");
  return static_cast<ckpt_type>(value);
}

const char *type_name(ckpt_type type) noexcept {
  switch (type) {
  case CKPT_BYTE: return "byte";
  case CKPT_CHAR: return "char";
  case CKPT_INT32: return "int32";
  case CKPT_UINT32: return "uint32";
  case CKPT_INT64: return "int64";
  case CKPT_UINT64: return "uint64";
  case CKPT_FLOAT: return "float";
  case CKPT_DOUBLE: return "double";
  }
  return "unknown";
}

Region &RegionRegistry::protect(int id, const std::string &name, void *data, std::uint64_t count,
                                std::uint64_t elem_size, ckpt_type type) {
  if (name.empty() || name.size() > k_max_region_name)
    throw ArgumentError("region " + std::to_string(id) + ": name must have 1 to " +
                        std::to_string(k_max_region_name) + " characters, got '" + name + "'");
  if (elem_size == 0)
    throw ArgumentError("region " + std::to_string(id) + " '" + name + "': element size 0");
  // The size in bytes must be representable, or the region would silently
  // shrink to the wrapped product (and nothing of it be saved).
  if (count > SIZE_MAX / elem_size)
    throw ArgumentError("region " + std::to_string(id) + " '" + name +
                        "': " + std::to_string(count) + " elements of " +
                        std::to_string(elem_size) + " bytes overflow the size of a memory region");
  if (count > 0 && data == nullptr)
    throw ArgumentError("region " + std::to_string(id) + " '" + name + "': null pointer for " +
                        std::to_string(count) + " elements");
  auto it = m_regions.find(id);
  if (it == m_regions.end()) {
    Region r;
    r.id = id;
    it = m_regions.emplace(id, std::move(r)).first;
  }
  Region &r = it->second;
  if (r.count != count || r.elem_size != elem_size || r.type != type) r.committed_hashes.clear();
  r.name = name;
  r.data = data;
  r.count = count;
  r.elem_size = elem_size;
  r.type = type;
  r.piece = PieceRow{};
  return r;
}

bool RegionRegistry::unprotect(int id) noexcept { return m_regions.erase(id) > 0; }

Region *RegionRegistry::find(int id) noexcept {
  auto it = m_regions.find(id);
  return it == m_regions.end() ? nullptr : &it->second;
}

} // namespace ckpt::detail
