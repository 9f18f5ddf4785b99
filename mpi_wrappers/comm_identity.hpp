// What a communicator is, independent of the order the program created it in:
// its parent, the kind of creating call and its members (world ranks). The
// layer derives a communicator's id from this identity; a checkpoint records
// the identity of every communicator it refers to, and a restart maps saved
// communicators to live ones by identity (docs/PROTOCOL.md, 2.1 and 6).
// Plain C++, no MPI.
#ifndef CKPT_PMPI_COMM_IDENTITY_HPP
#define CKPT_PMPI_COMM_IDENTITY_HPP

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace ckpt::detail::pmpi {

/// FNV-1a of a call name, e.g. "Comm_split": the same constant
/// generate_wrappers.py passes as `call_kind`.
std::uint32_t call_kind_of(const std::string &call_name) noexcept;
/// Kinds of the creating calls the layer wraps by hand.
std::uint32_t create_group_kind(int tag) noexcept;      ///< Comm_create_group with `tag`
inline constexpr std::uint32_t merge_kind = 0x6d657267; ///< Intercomm_merge
inline constexpr std::uint32_t builtin_kind = 0;        ///< MPI_COMM_WORLD, MPI_COMM_SELF

/// Hash of a member list (world ranks in communicator rank order).
std::uint64_t members_hash(const std::vector<int> &world_ranks) noexcept;

/// Numbers the communicators that nothing but creation order distinguishes:
/// same parent, same kind of call, same members. Every member counts alike,
/// whatever else it created before, so the ordinal agrees across members.
class SiblingOrdinals {
public:
  std::uint64_t next(std::uint64_t parent, std::uint32_t kind, std::uint64_t members) {
    return m_next[{parent, kind, members}]++;
  }
  void clear() noexcept { m_next.clear(); }

private:
  std::map<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>, std::uint64_t> m_next;
};

/// One communicator as the checkpoint records it.
struct CommDescriptor {
  std::uint64_t id = 0;
  std::uint64_t parent = 0; ///< id of the parent (0 for WORLD, SELF)
  std::uint32_t kind = builtin_kind;
  std::uint64_t ordinal = 0;
  std::vector<int> members; ///< world ranks, in communicator rank order
  std::string name;         ///< set with MPI_Comm_set_name (empty: none)
};

/// The id of a communicator with this identity.
std::uint64_t identity_id(std::uint64_t parent, std::uint32_t kind, std::uint64_t members,
                          std::uint64_t ordinal) noexcept;

/// "MPI_Comm_split of MPI_COMM_WORLD, named 'rows', world ranks 0,2" for
/// error messages (`all` resolves parents' names; may be empty).
std::string describe(const CommDescriptor &comm, const std::vector<CommDescriptor> &all);

class CommMatchError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Maps the ids of saved communicators to live ones. `saved` and `live` are
/// in creation order (a parent before its children). A saved communicator
/// matches a live one with the mapped parent, the same kind of call and the
/// same members; among several such, one with the same name (names set with
/// MPI_Comm_set_name; empty names are neutral), then the lowest ordinal not
/// yet taken: creation order breaks ties only between communicators nothing
/// else distinguishes. Throws CommMatchError naming the first communicator
/// of `required` that has no match.
std::map<std::uint64_t, std::uint64_t>
match_communicators(const std::vector<CommDescriptor> &saved,
                    const std::vector<CommDescriptor> &live,
                    const std::vector<std::uint64_t> &required);

} // namespace ckpt::detail::pmpi

#endif
