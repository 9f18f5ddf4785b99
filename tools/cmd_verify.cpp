// ckpt verify: rebuilds every region of a version from its delta chain, as
// restart does, and checks every block against the hashes recorded in the
// newest file of the chain.
#include "chain_reader.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <iostream>
#include <optional>

namespace ckpt::tool {
namespace {

struct VersionResult {
  std::int64_t version = 0;
  std::string state;
  std::vector<std::int64_t> chain;
  std::optional<detail::CommitRecord> record;
  bool ok = false;
  std::uint64_t regions = 0, blocks = 0, bytes = 0, damaged_blocks = 0;
  std::string problem;        // why the version as a whole fails
  std::vector<Damage> damage; // the damaged blocks reported
};

VersionResult verify_version(const detail::Catalog &catalog, std::int64_t version,
                             std::size_t max_reported) {
  VersionResult out;
  out.version = version;
  const detail::VersionEntry &e = require_version(catalog, version);
  out.state = detail::to_string(e.state);
  out.record = e.record;
  if (e.record) out.chain = e.record->chain;
  if (e.state != detail::VersionState::Committed) {
    out.problem = "version " + std::to_string(version) + " is " + out.state + ": " + e.problem;
    return out;
  }
  std::string problem;
  const auto chain = catalog.chain_of(version, problem);
  if (!chain) {
    out.problem = problem;
    return out;
  }
  try {
    ChainReader reader(catalog, *chain);
    std::vector<unsigned char> buffer;
    for (const detail::IndexRow &row : reader.regions()) {
      ++out.regions;
      out.blocks += row.nblocks;
      out.bytes += row.bytes;
      out.damaged_blocks += reader.verify(row, buffer, out.damage, max_reported);
    }
  } catch (const ToolError &err) {
    if (err.exit_status() == k_exit_usage) throw; // cannot read a file: not damage
    out.problem = err.what();
  }
  out.ok = out.problem.empty() && out.damaged_blocks == 0;
  return out;
}

std::string header_text(const VersionResult &r) {
  std::string out = "version " + std::to_string(r.version);
  if (r.record) {
    out += " (" + kind_text(r.record->base, r.record->base_version());
    if (!r.record->base) {
      out += ", chain";
      for (std::int64_t v : r.chain)
        out += " " + std::to_string(v);
    }
    out += ", step " + std::to_string(r.record->step) + ", " + std::to_string(r.record->nranks) +
           " rank(s))";
  }
  return out;
}

void print_text(const std::vector<VersionResult> &results) {
  std::size_t failed = 0;
  for (const VersionResult &r : results) {
    if (r.ok) {
      std::cout << header_text(r) << ": OK, " << r.regions << " region(s), " << r.blocks
                << " block(s), " << human_bytes(double(r.bytes)) << " verified\n";
      continue;
    }
    ++failed;
    std::cout << header_text(r) << ": FAILED";
    if (r.damaged_blocks)
      std::cout << ", " << r.damaged_blocks << " of " << r.blocks << " block(s) damaged";
    std::cout << "\n";
    if (!r.problem.empty()) std::cout << "  " << r.problem << "\n";
    for (const Damage &d : r.damage)
      std::cout << "  " << d.describe() << "\n";
    if (r.damaged_blocks > r.damage.size() && !r.damage.empty())
      std::cout << "  ... and " << r.damaged_blocks - r.damage.size()
                << " more damaged block(s) (raise --max-report to list them)\n";
  }
  if (failed == 0)
    std::cout << "all " << results.size() << " version(s) verified: every block matches its hash\n";
  else
    std::cout << failed << " of " << results.size() << " version(s) failed verification\n";
}

void print_json(const detail::Catalog &catalog, const std::vector<VersionResult> &results) {
  bool all_ok = true;
  for (const VersionResult &r : results)
    all_ok = all_ok && r.ok;
  JsonWriter json(std::cout);
  json.begin_object();
  json.field("dir", catalog.dir());
  json.field("prefix", catalog.prefix());
  json.field("ok", all_ok);
  json.key("versions");
  json.begin_array();
  for (const VersionResult &r : results) {
    json.begin_object();
    json.field("version", r.version);
    json.field("state", r.state);
    json.field("ok", r.ok);
    json.field("chain", r.chain);
    json.field("regions", r.regions);
    json.field("blocks", r.blocks);
    json.field("bytes", r.bytes);
    json.field("damaged_blocks", r.damaged_blocks);
    json.key("problem");
    if (r.problem.empty())
      json.null();
    else
      json.value(r.problem);
    json.key("damage");
    json.begin_array();
    for (const Damage &d : r.damage) {
      json.begin_object();
      json.field("file", d.file);
      json.field("file_version", d.file_version);
      json.field("rank", static_cast<std::int64_t>(d.rank));
      json.field("region_id", static_cast<std::int64_t>(d.region_id));
      json.field("region", d.region);
      json.key("block");
      if (d.block >= 0)
        json.value(d.block);
      else
        json.null();
      json.field("problem", d.problem);
      json.end_object();
    }
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.finish();
}

} // namespace

int run_verify(const Arguments &args) {
  CommandLine cli(
      "ckpt verify [options] [DIR] [VERSION | --all]",
      "Verifies a checkpoint version (default: the newest committed one, the one restart would "
      "use) or, with --all, every version in DIR: checks its commit record and delta chain, "
      "rebuilds every region of every rank from the chain's files in memory (one region at a "
      "time, as restart does) and compares the XXH3-64 hash of every block with the hash "
      "recorded in the newest file. Exits 0 only when everything is valid; otherwise names "
      "each damaged file, rank, region and block and exits 1. With --all, incomplete and "
      "corrupt versions count as failures.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("all", "verify every version in DIR")(
      "max-report", po::value<std::size_t>()->default_value(20)->value_name("N"),
      "list at most N damaged blocks per version");
  cli.set_operands({"VERSION"});
  if (!cli.parse(args)) return k_exit_ok;
  if (cli.has("all") && !cli.operands().empty())
    throw bad_input("give either a VERSION or --all, not both");
  const detail::Catalog catalog = open_catalog(resolve_location(cli));
  std::vector<std::int64_t> versions;
  if (cli.has("all")) {
    for (const auto &[v, e] : catalog.entries())
      versions.push_back(v);
  } else if (!cli.operands().empty()) {
    versions.push_back(parse_version(cli.operands()[0]));
    require_version(catalog, versions.back());
  } else if (auto newest = catalog.newest_committed()) {
    versions.push_back(*newest);
  } else {
    throw damage_found("no committed version in " + catalog.dir() +
                       " (versions: " + describe_versions(catalog) + ")");
  }

  MpiScope mpi;
  const std::size_t max_reported = cli.get<std::size_t>("max-report");
  std::vector<VersionResult> results;
  results.reserve(versions.size());
  for (std::int64_t v : versions)
    results.push_back(verify_version(catalog, v, max_reported));
  if (cli.json())
    print_json(catalog, results);
  else
    print_text(results);
  std::cout.flush();
  for (const VersionResult &r : results) {
    if (r.ok) continue;
    std::string first = !r.problem.empty()  ? r.problem
                        : !r.damage.empty() ? r.damage.front().describe()
                                            : std::string("damaged blocks");
    std::cerr << "ckpt verify: verification failed: version " << r.version << ": "
              << one_line(first) << "\n";
    return k_exit_damage;
  }
  return k_exit_ok;
}

} // namespace ckpt::tool
