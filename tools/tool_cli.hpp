// Command-line plumbing shared by the subcommands of the ckpt tool: exit
// statuses, one-line errors, the common options (directory, prefix, config
// file, --json), the checkpoint directory and version arguments, and MPI
// start-up for the subcommands that read checkpoint files.
#ifndef CKPT_TOOL_TOOL_CLI_HPP
#define CKPT_TOOL_TOOL_CLI_HPP

#include "catalog.hpp"
#include "checkpoint_file.hpp"
#include "fs.hpp"

#include <boost/program_options.hpp>

#include <cstdint>
#include <stdexcept>
#include <map>
#include <string>
#include <vector>

namespace ckpt::tool {

namespace po = boost::program_options;

/// Exit statuses of every subcommand (docs/TOOL.md, "Exit status").
constexpr int k_exit_ok = 0;
/// Verification failed or checkpoint data is damaged.
constexpr int k_exit_damage = 1;
/// Bad command line or input: not a checkpoint directory, unknown version,
/// no permission, bad configuration.
constexpr int k_exit_usage = 2;

/// An error reported as one line on stderr, with the exit status it causes.
class ToolError : public std::runtime_error {
public:
  ToolError(int exit_status, const std::string &what)
      : std::runtime_error(what), m_exit_status(exit_status) {}
  [[nodiscard]] int exit_status() const noexcept { return m_exit_status; }

private:
  int m_exit_status;
};

inline ToolError bad_input(const std::string &what) { return ToolError(k_exit_usage, what); }
inline ToolError damage_found(const std::string &what) { return ToolError(k_exit_damage, what); }

/// An error text as one line: an HDF5 error stack appended by the core
/// ("(HDF5:\n  frame\n  frame)") keeps its outermost and innermost frames.
std::string one_line(const std::string &what);

/// A subcommand's command line: its own options, --help, and operands
/// (DIR first when the subcommand takes location options, then the rest).
class CommandLine {
public:
  /// `synopsis`: e.g. "ckpt list [options] [DIR]"; `about`: one paragraph.
  CommandLine(std::string synopsis, std::string about);
  po::options_description &options() noexcept { return m_options; }
  /// Adds --dir, --prefix and --config; DIR may also be the first operand.
  void add_location_options();
  /// Adds --json.
  void add_json_option();
  /// Names of the operands after DIR (all optional), e.g. {"VERSION"}.
  void set_operands(std::vector<std::string> names) { m_operand_names = std::move(names); }
  /// Parses; prints the help and returns false for --help. Throws ToolError.
  bool parse(const std::vector<std::string> &args);
  [[nodiscard]] const po::variables_map &values() const noexcept { return m_values; }
  [[nodiscard]] bool has(const char *name) const { return m_values.count(name) != 0; }
  template <class T> [[nodiscard]] T get(const char *name) const { return m_values[name].as<T>(); }
  [[nodiscard]] bool json() const { return has("json"); }
  /// The directory operand or --dir (empty when neither was given).
  [[nodiscard]] const std::string &dir_argument() const noexcept { return m_dir; }
  /// The operands after DIR.
  [[nodiscard]] const std::vector<std::string> &operands() const noexcept { return m_operands; }
  void print_help(std::ostream &out) const;

private:
  std::string m_synopsis;
  std::string m_about;
  po::options_description m_options;
  bool m_location = false;
  std::vector<std::string> m_operand_names;
  po::variables_map m_values;
  std::string m_dir;
  std::vector<std::string> m_operands;
};

/// The checkpoint directory and file prefix a subcommand works on.
struct Location {
  std::string dir;
  std::string prefix;
  std::string local_dir; // the job's local level on this node (empty: none)
};

/// What this node's local level holds of a job (docs/FORMAT.md, section 7):
/// per version, the ranks whose own chain is whole here, and the ranks whose
/// partner copies (whole chains) are kept here.
struct LocalHoldings {
  std::map<std::int64_t, std::vector<std::int32_t>> own, partner;
  std::vector<std::string> problems;
  std::int32_t nranks = 0; // ranks of the job that wrote them
};
/// Scans location.local_dir (the job's rank count is taken from its records).
LocalHoldings scan_local_level(const Location &location);

/// dir (DIR / --dir) and prefix (--prefix) with the precedence of the
/// configuration: flag > CKPT_<KEY> environment > --config file > default.
Location resolve_location(const CommandLine &cli);

/// Scans the directory. Throws bad_input when it is missing, unreadable, or
/// holds no file of the prefix.
detail::Catalog open_catalog(const Location &location);

/// Takes the lock of the checkpoint directory (docs/FORMAT.md, "Lock file")
/// for a subcommand that writes or deletes files: bad_input naming the
/// holder when a job (or another ckpt) holds it. `purpose`: e.g. "ckpt prune".
detail::DirectoryLock lock_directory(const Location &location, const std::string &purpose);

/// A version number argument ("7"); bad_input otherwise.
std::int64_t parse_version(const std::string &text);
/// The catalog entry of `version`; bad_input naming the versions present.
const detail::VersionEntry &require_version(const detail::Catalog &catalog, std::int64_t version);
/// The version a command works on: the VERSION operand when given (it must
/// exist), else the newest committed one; damage_found when there is none
/// (`hint` is appended to that message, e.g. "; name one to inspect it").
std::int64_t chosen_version(const CommandLine &cli, const detail::Catalog &catalog,
                            const std::string &hint = {});
/// "1-4, 7, 9" for the versions of the catalog.
std::string describe_versions(const detail::Catalog &catalog);
/// "base" or "delta of base N".
std::string kind_text(bool base, std::int64_t base_version);

/// MPI for the subcommands that read or write checkpoint files (parallel
/// HDF5 over MPI_COMM_SELF). Initialises on construction (a launcher is not
/// needed), finalises on destruction; declare it before any file object.
class MpiScope {
public:
  MpiScope();
  ~MpiScope();
  MpiScope(const MpiScope &) = delete;
  MpiScope &operator=(const MpiScope &) = delete;

private:
  bool m_owner = false;
};

/// Opens a checkpoint file read-only (HDF5's POSIX driver): bad_input when it cannot be
/// read (missing, permission), damage_found when it is not a valid file.
detail::CheckpointFile open_checkpoint_file(const std::string &path);

} // namespace ckpt::tool

#endif
