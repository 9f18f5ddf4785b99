#include "tool_cli.hpp"

#include "config.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "h5.hpp"
#include "local_level.hpp"

#include <mpi.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace ckpt::tool {
namespace {

std::string trim(const std::string &text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

/// Newlines become "; ", runs of blanks one space.
std::string flatten(const std::string &text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty()) continue;
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out;
}

} // namespace

std::string one_line(const std::string &what) {
  const std::string marker = " (HDF5:";
  const auto pos = what.find(marker);
  const auto close = what.rfind(')');
  if (pos == std::string::npos || close == std::string::npos || close < pos) return flatten(what);
  std::vector<std::string> frames;
  std::istringstream in(what.substr(pos + marker.size(), close - pos - marker.size()));
  for (std::string line; std::getline(in, line);)
    if (!trim(line).empty()) frames.push_back(trim(line));
  std::string out = flatten(what.substr(0, pos));
  if (!frames.empty()) {
    out += " (HDF5: " + frames.front();
    if (frames.size() > 1) out += (frames.size() > 2 ? "; ...; " : "; ") + frames.back();
    out += ")";
  }
  const std::string tail = flatten(what.substr(close + 1));
  if (!tail.empty()) out += " " + tail;
  return out;
}

// ---------------------------------------------------------------------------

CommandLine::CommandLine(std::string synopsis, std::string about)
    : m_synopsis(std::move(synopsis)), m_about(std::move(about)), m_options("Options") {
  m_options.add_options()("help,h", "print this help and exit");
}

void CommandLine::add_location_options() {
  const detail::OptionSpec *dir = detail::find_option("dir");
  const detail::OptionSpec *prefix = detail::find_option("prefix");
  const std::string dir_help =
      "checkpoint directory, also given as the first argument DIR (default: CKPT_DIR, the "
      "--config file, then \"" +
      std::string(dir ? dir->default_value : "") + "\")";
  const std::string prefix_help =
      "file name prefix of the checkpoint files (default: CKPT_PREFIX, the --config file, "
      "then \"" +
      std::string(prefix ? prefix->default_value : "") + "\")";
  m_options.add_options()("local-dir", po::value<std::string>()->value_name("DIR"),
                          "local_dir of the job (default: CKPT_LOCAL_DIR, the --config file, "
                          "then auto: /dev/shm): its local level on this node is looked at too");
  m_options.add_options()("dir", po::value<std::string>()->value_name("DIR"), dir_help.c_str())(
      "prefix", po::value<std::string>()->value_name("PREFIX"),
      prefix_help.c_str())("config", po::value<std::string>()->value_name("FILE"),
                           "libckpt configuration (INI) file to take dir and prefix from");
  m_location = true;
}

void CommandLine::add_json_option() {
  m_options.add_options()("json", "print the result as one JSON document (for scripts)");
}

void CommandLine::print_help(std::ostream &out) const {
  out << "Usage: " << m_synopsis << "\n\n" << m_about << "\n\n" << m_options << "\n";
  out << "Exit status: 0 success, 1 verification failed or damaged checkpoint data, "
         "2 bad command line or input.\n";
}

bool CommandLine::parse(const std::vector<std::string> &args) {
  const std::string command = m_synopsis.substr(0, m_synopsis.find(" ["));
  std::vector<std::string> operands;
  try {
    po::options_description all;
    all.add(m_options);
    all.add_options()("operand", po::value<std::vector<std::string>>(&operands));
    po::positional_options_description positional;
    positional.add("operand", -1);
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), m_values);
    if (has("help")) {
      print_help(std::cout);
      return false;
    }
    po::notify(m_values);
  } catch (const po::error &e) {
    throw bad_input(std::string(e.what()) + " (see " + command + " --help)");
  }
  std::size_t next = 0;
  if (m_location) {
    if (has("dir"))
      m_dir = get<std::string>("dir");
    else if (!operands.empty())
      m_dir = operands[next++];
  }
  m_operands.assign(operands.begin() + static_cast<std::ptrdiff_t>(next), operands.end());
  if (m_operands.size() > m_operand_names.size())
    throw bad_input("unexpected argument '" + m_operands[m_operand_names.size()] + "' (see " +
                    command + " --help)");
  return true;
}

// ---------------------------------------------------------------------------

Location resolve_location(const CommandLine &cli) {
  std::map<std::string, std::string> flags;
  if (!cli.dir_argument().empty()) flags["dir"] = cli.dir_argument();
  if (cli.has("prefix")) flags["prefix"] = cli.get<std::string>("prefix");
  const std::string file = cli.has("config") ? cli.get<std::string>("config") : std::string();
  if (cli.has("local-dir")) flags["local_dir"] = cli.get<std::string>("local-dir");
  const detail::Config config = detail::Config::resolve(file, flags);
  return Location{config.dir(), config.prefix(),
                  detail::resolve_local_dir(config.local_dir(), config.dir(), config.prefix())};
}

LocalHoldings scan_local_level(const Location &location) {
  LocalHoldings out;
  if (location.local_dir.empty() || !detail::is_directory(location.local_dir)) return out;
  // The records say how many ranks wrote them; rank 0's view is enough to
  // find every rank's files (each is checked against its own name).
  std::int32_t &nranks = out.nranks;
  for (const std::string &name : detail::list_directory(location.local_dir)) {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".commit") != 0) continue;
    try {
      nranks = std::max(nranks, detail::LocalVersion::parse(
                                    detail::read_file(detail::join_path(location.local_dir, name),
                                                      std::uint64_t{1} << 31),
                                    name)
                                    .record.nranks);
    } catch (const std::exception &) {
    }
  }
  for (std::int32_t r = 0; r < nranks; ++r) {
    const detail::LocalLevel level(location.local_dir, location.prefix, r, nranks, false);
    for (std::int64_t v : detail::LocalLevel::restorable(level.scan(out.problems)))
      out.own[v].push_back(r);
    if (r == 0)
      for (const auto &[owner, scanned] : level.scan_partner_copies(out.problems))
        for (std::int64_t v : detail::LocalLevel::restorable(scanned))
          out.partner[v].push_back(owner);
  }
  return out;
}

namespace {

/// Prefixes of other checkpoint files in `dir` ("run" for run.v000001.commit).
std::set<std::string> other_prefixes(const std::string &dir) {
  std::set<std::string> out;
  try {
    for (const std::string &name : detail::list_directory(dir)) {
      const auto v = name.rfind(".v");
      if (v == std::string::npos || v == 0) continue;
      const auto dot = name.find('.', v + 2);
      if (dot == std::string::npos || dot == v + 2) continue;
      const std::string digits = name.substr(v + 2, dot - v - 2);
      const std::string ext = name.substr(dot);
      if ((ext == ".commit" || ext == ".h5") &&
          std::all_of(digits.begin(), digits.end(),
                      [](unsigned char c) { return std::isdigit(c); }))
        out.insert(name.substr(0, v));
    }
  } catch (const std::exception &) {
  }
  return out;
}

} // namespace

detail::Catalog open_catalog(const Location &location) {
  const std::string &dir = location.dir;
  if (!detail::path_exists(dir)) throw bad_input("no such checkpoint directory: " + dir);
  if (!detail::is_directory(dir)) throw bad_input(dir + " is not a directory");
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    const int err = errno;
    throw bad_input("cannot read directory " + dir + ": " + std::strerror(err));
  }
  detail::Catalog catalog;
  try {
    catalog = detail::Catalog::scan(dir, location.prefix);
  } catch (const Error &e) {
    throw bad_input(one_line(e.what()));
  }
  if (catalog.entries().empty()) {
    std::string hint;
    const auto prefixes = other_prefixes(dir);
    if (!prefixes.empty())
      hint = "; it has files of prefix '" + *prefixes.begin() + "' (use --prefix " +
             *prefixes.begin() + ")";
    throw bad_input(dir + " is not a checkpoint directory: no files " + location.prefix +
                    ".v<NNNNNN>.h5 or .commit" + hint);
  }
  return catalog;
}

detail::DirectoryLock lock_directory(const Location &location, const std::string &purpose) {
  try {
    detail::DirectoryLock lock =
        detail::DirectoryLock::acquire(location.dir, location.prefix, purpose);
    if (!lock.unsupported().empty()) std::cerr << "ckpt: warning: " << lock.unsupported() << "\n";
    return lock;
  } catch (const Error &e) {
    throw bad_input(one_line(e.what()));
  }
}

std::int64_t parse_version(const std::string &text) {
  const bool digits =
      !text.empty() && text.size() <= 18 &&
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  const std::int64_t v = digits ? std::stoll(text) : 0;
  if (v <= 0)
    throw bad_input("'" + text + "' is not a checkpoint version (a positive number, e.g. 7)");
  return v;
}

std::int64_t chosen_version(const CommandLine &cli, const detail::Catalog &catalog,
                            const std::string &hint) {
  if (!cli.operands().empty()) {
    const std::int64_t version = parse_version(cli.operands()[0]);
    require_version(catalog, version);
    return version;
  }
  if (auto newest = catalog.newest_committed()) return *newest;
  throw damage_found("no committed version in " + catalog.dir() +
                     " (versions: " + describe_versions(catalog) + ")" + hint);
}

std::string describe_versions(const detail::Catalog &catalog) {
  std::string out;
  std::int64_t first = 0, last = 0;
  auto flush = [&] {
    if (first == 0) return;
    if (!out.empty()) out += ", ";
    out += std::to_string(first);
    if (last > first) out += (last == first + 1 ? ", " : "-") + std::to_string(last);
  };
  for (const auto &[v, e] : catalog.entries()) {
    if (first != 0 && v == last + 1) {
      last = v;
      continue;
    }
    flush();
    first = last = v;
  }
  flush();
  return out;
}

const detail::VersionEntry &require_version(const detail::Catalog &catalog, std::int64_t version) {
  const detail::VersionEntry *e = catalog.find(version);
  if (!e)
    throw bad_input("version " + std::to_string(version) + " is not in " + catalog.dir() +
                    " (prefix " + catalog.prefix() + "; versions: " + describe_versions(catalog) +
                    ")");
  return *e;
}

std::string kind_text(bool base, std::int64_t base_version) {
  return base ? std::string("base") : "delta of base " + std::to_string(base_version);
}

// ---------------------------------------------------------------------------

MpiScope::MpiScope() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  if (MPI_Init(nullptr, nullptr) != MPI_SUCCESS)
    throw ToolError(k_exit_usage, "MPI_Init failed: the tool needs MPI to read checkpoint files");
  m_owner = true;
  detail::silence_hdf5_errors();
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1)
    throw bad_input("ckpt is a serial tool: run it without mpiexec (it was started on " +
                    std::to_string(size) + " ranks)");
}

MpiScope::~MpiScope() {
  if (!m_owner) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

detail::CheckpointFile open_checkpoint_file(const std::string &path) {
  if (::access(path.c_str(), R_OK) != 0) {
    const int err = errno;
    throw bad_input("cannot read " + path + ": " + std::strerror(err));
  }
  try {
    detail::require_regular_file(path); // H5Fopen would follow a link or block on a FIFO
  } catch (const Error &e) {
    throw bad_input(one_line(e.what()));
  }
  try {
    return detail::CheckpointFile::open_serial(path);
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
}

} // namespace ckpt::tool
