#include "comm_identity.hpp"

#include "channel_counts.hpp"

#include <algorithm>
#include <set>

namespace ckpt::detail::pmpi {

std::uint32_t call_kind_of(const std::string &call_name) noexcept {
  std::uint32_t h = 0x811C9DC5u;
  for (unsigned char c : call_name)
    h = (h ^ c) * 0x01000193u;
  return h;
}

std::uint32_t create_group_kind(int tag) noexcept {
  return static_cast<std::uint32_t>(
      comm_id::mix(call_kind_of("Comm_create_group"), static_cast<std::uint32_t>(tag)));
}

std::uint64_t members_hash(const std::vector<int> &world_ranks) noexcept {
  std::uint64_t h = comm_id::mix(0x67726f7570ULL, world_ranks.size());
  for (int r : world_ranks)
    h = comm_id::mix(h, static_cast<std::uint32_t>(r));
  return h;
}

std::uint64_t identity_id(std::uint64_t parent, std::uint32_t kind, std::uint64_t members,
                          std::uint64_t ordinal) noexcept {
  return comm_id::mix(comm_id::mix(comm_id::mix(parent, kind), members), ordinal);
}

namespace {

std::string call_name(std::uint32_t kind) {
  static const char *const calls[] = {
      "Comm_dup",        "Comm_dup_with_info", "Comm_split",
      "Comm_split_type", "Comm_create",        "Cart_create",
      "Cart_sub",        "Graph_create",       "Dist_graph_create_adjacent"};
  for (const char *c : calls)
    if (call_kind_of(c) == kind) return std::string("MPI_") + c;
  if (kind == merge_kind) return "MPI_Intercomm_merge";
  return "MPI_Comm_create_group";
}

std::string name_of(std::uint64_t id, const std::vector<CommDescriptor> &all) {
  if (id == comm_id::world) return "MPI_COMM_WORLD";
  if (id == comm_id::self) return "MPI_COMM_SELF";
  for (const CommDescriptor &c : all)
    if (c.id == id && !c.name.empty()) return "'" + c.name + "'";
  for (const CommDescriptor &c : all)
    if (c.id == id) return "(" + call_name(c.kind) + " of " + name_of(c.parent, all) + ")";
  return "an unknown communicator";
}

} // namespace

std::string describe(const CommDescriptor &comm, const std::vector<CommDescriptor> &all) {
  if (comm.id == comm_id::world || comm.id == comm_id::self) return name_of(comm.id, all);
  std::string out = "communicator";
  if (!comm.name.empty()) out += " '" + comm.name + "'";
  out += " made by " + call_name(comm.kind) + " of " + name_of(comm.parent, all);
  if (comm.ordinal > 0) out += " (creation " + std::to_string(comm.ordinal + 1) + " of its kind)";
  out += ", world ranks ";
  const std::size_t shown = std::min<std::size_t>(comm.members.size(), 8);
  for (std::size_t i = 0; i < shown; ++i)
    out += (i ? "," : "") + std::to_string(comm.members[i]);
  if (shown < comm.members.size())
    out += ",... (" + std::to_string(comm.members.size()) + " ranks)";
  return out;
}

std::map<std::uint64_t, std::uint64_t>
match_communicators(const std::vector<CommDescriptor> &saved,
                    const std::vector<CommDescriptor> &live,
                    const std::vector<std::uint64_t> &required) {
  std::map<std::uint64_t, std::uint64_t> map{{comm_id::world, comm_id::world},
                                             {comm_id::self, comm_id::self}};
  std::set<std::uint64_t> taken{comm_id::world, comm_id::self};
  for (const CommDescriptor &s : saved) {
    if (map.count(s.id)) continue;
    const auto parent = map.find(s.parent);
    if (parent == map.end()) continue; // the parent has no match: neither has s
    const CommDescriptor *best = nullptr;
    int best_rank = 0; // 2: same name, 1: both unnamed, 0: name differs from an unnamed side
    for (const CommDescriptor &l : live) {
      if (taken.count(l.id) || l.parent != parent->second || l.kind != s.kind ||
          l.members != s.members)
        continue;
      if (!s.name.empty() && !l.name.empty() && s.name != l.name) continue;
      const int rank = s.name == l.name ? (s.name.empty() ? 1 : 2) : 0;
      if (!best || rank > best_rank || (rank == best_rank && l.ordinal < best->ordinal)) {
        best = &l;
        best_rank = rank;
      }
    }
    if (!best) continue;
    map[s.id] = best->id;
    taken.insert(best->id);
  }
  for (std::uint64_t id : required) {
    if (map.count(id)) continue;
    const auto it = std::find_if(saved.begin(), saved.end(),
                                 [&](const CommDescriptor &c) { return c.id == id; });
    throw CommMatchError(
        (it == saved.end() ? std::string("a communicator the checkpoint does not describe")
                           : describe(*it, saved)) +
        " is referred to by the checkpoint but no live communicator matches it: create it, "
        "with the same call, parent and members, before ckpt_restart()");
  }
  return map;
}

} // namespace ckpt::detail::pmpi
