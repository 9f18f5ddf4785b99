// The local level (docs/FORMAT.md, section 7): each rank writes the blocks a
// version stores to a file of its own on node-local storage (`local_dir`,
// e.g. /dev/shm or a local SSD) with plain POSIX calls, and commits it with
// a record of its own, written last (temporary file, fsync, rename). A
// version is on the local level when every rank holds its record. No MPI:
// the runtime agrees between ranks.
//
//   <prefix>.vNNNNNN.rRRRRRR.data    the stored blocks, in /index row order
//   <prefix>.vNNNNNN.rRRRRRR.commit  the rank's commit record: the version's
//                                    commit record, header, rows, stored
//                                    blocks and hashes, with a checksum
#ifndef CKPT_DETAIL_LOCAL_LEVEL_HPP
#define CKPT_DETAIL_LOCAL_LEVEL_HPP

#include "chain_model.hpp"
#include "checkpoint_plan.hpp"
#include "commit_record.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

/// "ckpt.v000004.r000001".
std::string local_stem(const std::string &prefix, std::int64_t version, std::int32_t rank);

/// The directory of the local level for the config value `setting` (a path,
/// "auto" or "none") of a job whose checkpoint directory is `dir`:
/// <setting>/libckpt-<uid>-<hash of dir's real path and prefix>, with
/// /dev/shm for "auto" (empty when there is none); empty for "none".
std::string resolve_local_dir(const std::string &setting, const std::string &dir,
                              const std::string &prefix);

/// The partner level: the rank that keeps a copy of each rank's local files,
/// given the node of every rank. Nodes are taken in name order; rank r, the
/// k-th rank of its node, is kept by the k-th rank (modulo their number) of
/// the next node. All -1 when every rank is on one node.
std::vector<std::int32_t> partner_ranks(const std::vector<std::string> &node_of_rank);

/// One rank's committed version on the local level.
struct LocalVersion {
  CommitRecord record; // the version's record; `file` names the data file
  ChainFileMeta meta;  // this rank's rows, stored blocks and hashes; data at 0
  [[nodiscard]] std::string serialize() const;
  /// Throws FormatError naming `origin` (checksum, counts, strict record).
  static LocalVersion parse(const std::string &bytes, const std::string &origin);
};

/// Read-only view of a committed data file: the snapshot the background
/// flush writes from (unmapped when the last owner lets go).
class MappedFile {
public:
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  [[nodiscard]] unsigned char *data() const noexcept { return m_data; }
  [[nodiscard]] std::uint64_t size() const noexcept { return m_size; }

private:
  unsigned char *m_data = nullptr;
  std::uint64_t m_size = 0;
};

class LocalLevel {
public:
  LocalLevel(std::string dir, std::string prefix, std::int32_t rank, std::int32_t nranks,
             bool fsync);

  [[nodiscard]] const std::string &dir() const noexcept { return m_dir; }
  [[nodiscard]] std::string data_path(std::int64_t version) const;
  [[nodiscard]] std::string commit_path(std::int64_t version) const;

  /// Writes this rank's stored blocks of `plan` from the application's
  /// memory to a new data file (a leftover of a crashed attempt is
  /// replaced; never through a link), synced. Returns its size.
  std::uint64_t write_data(const VersionPlan &plan, std::uint64_t block_size);
  /// After every rank wrote its data: this rank's commit record, durable.
  void commit(const VersionPlan &plan, const FileHeader &header, std::uint64_t block_size,
              std::uint64_t data_bytes);

  /// This rank's committed versions (records that parse and whose data file
  /// has the size they say); problems go to `problems`.
  [[nodiscard]] std::map<std::int64_t, LocalVersion> scan(std::vector<std::string> &problems) const;
  /// The same for the partner copies this rank keeps, by owner rank.
  [[nodiscard]] std::map<std::int32_t, std::map<std::int64_t, LocalVersion>>
  scan_partner_copies(std::vector<std::string> &problems) const;

  /// Partner copies (files of `owner`'s version `version`): kept as
  /// "<stem of owner>.partner.data" and ".partner.commit".
  [[nodiscard]] std::string partner_data_path(std::int32_t owner, std::int64_t version) const;
  [[nodiscard]] std::string partner_commit_path(std::int32_t owner, std::int64_t version) const;
  /// Stores a received copy: data, synced, then the record, atomically.
  /// With `as_own`, as this rank's own files (a restart rebuilding its
  /// local level from its partner's copy).
  void store_copy(std::int32_t owner, std::int64_t version, const std::string &record,
                  const unsigned char *data, std::uint64_t bytes, bool as_own) const;
  /// The same for `owner`'s partner copies.
  void retain_partner(std::int32_t owner, const std::vector<std::int64_t> &keep) const;
  /// The versions of `scanned` whose whole chain is in `scanned`.
  static std::vector<std::int64_t> restorable(const std::map<std::int64_t, LocalVersion> &scanned);
  /// This rank's share of the chain of `version`, validated (chain_model).
  static RankChain chain_of(const std::map<std::int64_t, LocalVersion> &scanned,
                            std::int64_t version);

  /// Removes this rank's files of every version older than the newest of
  /// `keep` and not in it (everything when `keep` is empty).
  void retain(const std::vector<std::int64_t> &keep) const;
  /// Removes this rank's files of every version and its partner copies.
  void clear() const;

private:
  [[nodiscard]] std::map<std::int64_t, LocalVersion>
  scan_files(std::int32_t owner, const std::string &kind, std::vector<std::string> &problems) const;
  void remove_files(std::int32_t owner, const std::string &kind,
                    const std::vector<std::int64_t> &keep, bool any_owner) const;

  std::string m_dir, m_prefix;
  std::int32_t m_rank = 0, m_nranks = 1;
  bool m_fsync = true;
};

} // namespace ckpt::detail

#endif
