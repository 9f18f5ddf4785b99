// ckpt prune: deletes old versions with the retention rule of the runtime
// (Catalog::retention_plan): the N newest restorable versions stay, with
// every version their delta chains need.
#include "commands.hpp"
#include "fs.hpp"
#include "json_writer.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <iostream>
#include <map>
#include <set>

namespace ckpt::tool {
namespace {

struct Fate {
  std::int64_t version = 0;
  const detail::VersionEntry *entry = nullptr;
  bool remove = false;
  std::string reason;
  std::uint64_t bytes = 0; // on disk (data file + commit record)
};

std::uint64_t bytes_on_disk(const detail::Catalog &catalog, std::int64_t v) {
  std::uint64_t bytes = 0;
  for (const std::string &path : {catalog.data_path(v), catalog.commit_path(v)}) {
    try {
      if (detail::path_exists(path)) bytes += detail::file_size(path);
    } catch (const std::exception &) {
    }
  }
  return bytes;
}

/// What happens to each version, and why.
std::vector<Fate> plan(const detail::Catalog &catalog, int keep) {
  const std::vector<std::int64_t> doomed = catalog.retention_plan(keep);
  const std::set<std::int64_t> remove(doomed.begin(), doomed.end());
  // The same walk as retention_plan, to explain what is kept.
  std::set<std::int64_t> kept;
  std::map<std::int64_t, std::int64_t> needed_by;
  for (std::int64_t v : catalog.committed_newest_first()) {
    if (static_cast<int>(kept.size()) >= keep) break;
    std::string problem;
    const auto chain = catalog.chain_of(v, problem);
    if (!chain) continue;
    kept.insert(v);
    for (std::int64_t link : *chain)
      if (link != v) needed_by.emplace(link, v);
  }
  const auto newest = catalog.newest_committed();
  std::vector<Fate> fates;
  for (const auto &[v, e] : catalog.entries()) {
    Fate f;
    f.version = v;
    f.entry = &e;
    f.remove = remove.count(v) != 0;
    f.bytes = bytes_on_disk(catalog, v);
    if (f.remove)
      f.reason =
          e.state == detail::VersionState::Committed
              ? "older than the kept versions and not in their chains"
              : std::string(detail::to_string(e.state)) + ", older than the newest committed";
    else if (kept.count(v))
      f.reason = "one of the " + std::to_string(keep) + " newest restorable version(s)";
    else if (needed_by.count(v))
      f.reason = "in the delta chain of version " + std::to_string(needed_by[v]);
    else if (!newest || v > *newest)
      f.reason = "newer than the newest committed version (may still be being written)";
    else
      f.reason = "no restorable version: nothing is removed";
    fates.push_back(std::move(f));
  }
  return fates;
}

} // namespace

int run_prune(const Arguments &args) {
  CommandLine cli(
      "ckpt prune [options] [DIR] --keep N [--dry-run]",
      "Deletes old checkpoint versions: keeps the N newest restorable versions and every "
      "version their delta chains need (the same rule as the runtime's `keep` option), and "
      "deletes every older version, including incomplete and corrupt ones. Versions newer "
      "than the newest committed one are never deleted (a job may be writing them), and "
      "nothing is deleted when no version is restorable. Each version goes commit record "
      "first, so a crash never leaves a record without its data. --dry-run shows what would "
      "be deleted and deletes nothing.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("keep", po::value<int>()->required()->value_name("N"),
                              "number of newest restorable versions to keep (at least 1)")(
      "dry-run,n", "show what would be deleted; delete nothing");
  if (!cli.parse(args)) return k_exit_ok;
  const int keep = cli.get<int>("keep");
  if (keep < 1) throw bad_input("--keep must be at least 1 (got " + std::to_string(keep) + ")");
  const bool dry_run = cli.has("dry-run");
  const Location location = resolve_location(cli);
  detail::Catalog catalog = open_catalog(location);
  // Deleting takes the directory's lock (a running job holds it) and plans
  // from a scan made under it.
  detail::DirectoryLock lock;
  if (!dry_run) {
    lock = lock_directory(location, "ckpt prune");
    catalog = open_catalog(location);
  }
  const std::vector<Fate> fates = plan(catalog, keep);

  std::vector<std::int64_t> removed;
  std::uint64_t freed = 0;
  std::string failure;
  if (!dry_run) {
    for (const Fate &f : fates) {
      if (!f.remove) continue;
      try {
        catalog.remove_version(f.version, true);
      } catch (const Error &e) {
        failure = "removing version " + std::to_string(f.version) + ": " + one_line(e.what());
        break;
      }
      removed.push_back(f.version);
      freed += f.bytes;
    }
  } else {
    for (const Fate &f : fates)
      if (f.remove) {
        removed.push_back(f.version);
        freed += f.bytes;
      }
  }

  if (cli.json()) {
    JsonWriter json(std::cout);
    json.begin_object();
    json.field("dir", catalog.dir());
    json.field("prefix", catalog.prefix());
    json.field("keep", static_cast<std::int64_t>(keep));
    json.field("dry_run", dry_run);
    json.field(dry_run ? "would_remove" : "removed", removed);
    json.field("bytes", freed);
    json.key("versions");
    json.begin_array();
    for (const Fate &f : fates) {
      json.begin_object();
      json.field("version", f.version);
      json.field("state", detail::to_string(f.entry->state));
      json.field("action", f.remove ? "remove" : "keep");
      json.field("reason", f.reason);
      json.field("bytes", f.bytes);
      json.end_object();
    }
    json.end_array();
    json.end_object();
    json.finish();
  } else {
    std::cout << (dry_run ? "dry run: " : "") << "pruning " << catalog.dir() << " (prefix "
              << catalog.prefix() << ") to the " << keep
              << " newest restorable version(s) and the chains they need\n\n";
    TextTable table(
        {{"VERSION", true}, {"STATE"}, {"KIND"}, {"SIZE", true}, {"ACTION"}, {"REASON"}});
    for (const Fate &f : fates) {
      const auto &r = f.entry->record;
      table.add_row({std::to_string(f.version), detail::to_string(f.entry->state),
                     r ? kind_text(r->base, r->base_version()) : "-", human_bytes(double(f.bytes)),
                     f.remove ? (dry_run ? "would remove" : "remove") : "keep", f.reason});
    }
    table.print(std::cout);
    std::string list;
    for (std::int64_t v : removed)
      list += (list.empty() ? "" : " ") + std::to_string(v);
    std::cout << "\n"
              << (dry_run ? "would remove " : "removed ") << removed.size() << " version(s)"
              << (list.empty() ? "" : " (" + list + ")") << ", " << human_bytes(double(freed))
              << "\n";
  }
  if (!failure.empty()) throw bad_input(failure);
  return k_exit_ok;
}

} // namespace ckpt::tool
