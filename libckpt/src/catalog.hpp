// The versions found in a checkpoint directory, their state (committed,
// incomplete, corrupt), their delta chains, and the retention plan. No MPI:
// rank 0 scans and broadcasts; the ckpt tool uses it directly.
#ifndef CKPT_DETAIL_CATALOG_HPP
#define CKPT_DETAIL_CATALOG_HPP

#include "commit_record.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

std::string version_stem(const std::string &prefix, std::int64_t version); // "ckpt.v000007"
std::string data_file_name(const std::string &prefix, std::int64_t version);
std::string commit_file_name(const std::string &prefix, std::int64_t version);

/// What a directory entry named after `prefix` is (docs/FORMAT.md, "File
/// names"): `<prefix>.v<digits>` followed by `.h5`, `.commit` or
/// `.commit.tmp.<suffix>`, where <digits> is the version in 6 to 9 digits
/// (zero-padded to 6, no other leading zeros) and the version is
/// 1 .. k_max_version.
enum class FileRole { DataFile, CommitRecord, CommitTemporary };
struct ParsedFileName {
  std::int64_t version = 0;
  FileRole role = FileRole::DataFile;
};
/// The version and role of `name`, or nullopt when it is not a file of
/// `prefix`; then `reason` says why when the name starts like one
/// ("<prefix>.v") and stays empty for unrelated names.
std::optional<ParsedFileName> parse_file_name(const std::string &prefix, const std::string &name,
                                              std::string &reason);

/// A directory entry that starts like a checkpoint file of the prefix but is
/// not one (or is a leftover temporary file): the catalog ignores it.
struct IgnoredName {
  std::string name;
  std::string reason;
};

enum class VersionState { Committed, Incomplete, Corrupt };
const char *to_string(VersionState state) noexcept;

struct VersionEntry {
  std::int64_t version = 0;
  VersionState state = VersionState::Incomplete;
  bool has_data_file = false;
  bool has_commit_record = false;
  std::optional<CommitRecord> record; // when the record parsed
  std::string problem;                // why it is incomplete or corrupt
};

class Catalog {
public:
  /// Scans `dir` for files of `prefix`. Throws IoError if it cannot be read.
  static Catalog scan(const std::string &dir, const std::string &prefix);

  [[nodiscard]] const std::string &dir() const noexcept { return m_dir; }
  [[nodiscard]] const std::string &prefix() const noexcept { return m_prefix; }
  [[nodiscard]] const std::map<std::int64_t, VersionEntry> &entries() const noexcept {
    return m_entries;
  }
  /// Names that look like files of the prefix but are not part of any
  /// version (foreign files, out-of-range versions, temporary files).
  [[nodiscard]] const std::vector<IgnoredName> &ignored() const noexcept { return m_ignored; }
  [[nodiscard]] const VersionEntry *find(std::int64_t version) const noexcept;
  /// Committed versions, newest first.
  [[nodiscard]] std::vector<std::int64_t> committed_newest_first() const;
  [[nodiscard]] std::optional<std::int64_t> newest_committed() const;
  /// Highest version number present in any form (0 when empty).
  [[nodiscard]] std::int64_t max_version() const noexcept;
  /// Checks that every version of `version`'s chain is committed and present;
  /// returns the chain (base first) or explains what is missing in `problem`.
  [[nodiscard]] std::optional<std::vector<std::int64_t>> chain_of(std::int64_t version,
                                                                  std::string &problem) const;
  /// Versions to delete so that the `keep` newest committed versions and
  /// every version their chains need remain. Only versions older than the
  /// newest committed one are ever deleted.
  [[nodiscard]] std::vector<std::int64_t> retention_plan(int keep) const;
  /// Deletes one version: commit record first (then a directory fsync), then
  /// the data file, so a crash never leaves a record without its data.
  void remove_version(std::int64_t version, bool durable) const;

  std::string data_path(std::int64_t version) const;
  std::string commit_path(std::int64_t version) const;

private:
  std::string m_dir;
  std::string m_prefix;
  std::map<std::int64_t, VersionEntry> m_entries;
  std::vector<IgnoredName> m_ignored;
};

} // namespace ckpt::detail

#endif
