// ckpt inspect: what one checkpoint file holds: its header (format, kind,
// topology and configuration recorded at write time), its regions per rank,
// the dirty ratio and a fingerprint of its block hashes.
#include "block_hasher.hpp"
#include "commands.hpp"
#include "fs.hpp"
#include "json_writer.hpp"
#include "region.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <xxhash.h>

#include <iostream>
#include <memory>
#include <optional>

namespace ckpt::tool {
namespace {

struct RegionInfo {
  detail::IndexRow row;
  std::uint64_t fingerprint = 0; // XXH3-64 of the region's block hashes
};

struct RankInfo {
  std::vector<RegionInfo> regions;
  std::uint64_t bytes = 0, blocks = 0, stored = 0, stored_bytes = 0;
};

struct Inspection {
  std::int64_t version = 0;
  const detail::VersionEntry *entry = nullptr;
  std::string path;
  std::uint64_t file_bytes = 0;
  detail::FileHeader header;
  detail::CheckpointFile::Sizes sizes;
  std::vector<RankInfo> ranks;
  std::uint64_t table_hash = 0; // XXH3-64 of the whole /hashes dataset
  std::uint64_t regions = 0, bytes = 0, blocks = 0, stored = 0, stored_bytes = 0;
};

std::string type_text(const detail::IndexRow &row) {
  const auto type = static_cast<ckpt_type>(row.type);
  if (type == CKPT_BYTE && row.elem_size != 1)
    return "bytes(" + std::to_string(row.elem_size) + ")";
  return detail::type_name(type);
}

struct Xxh3StateDeleter {
  void operator()(XXH3_state_t *s) const noexcept { XXH3_freeState(s); }
};

Inspection inspect(const detail::Catalog &catalog, std::int64_t version) {
  Inspection in;
  in.version = version;
  in.entry = &require_version(catalog, version);
  in.path = catalog.data_path(version);
  if (!in.entry->has_data_file)
    throw damage_found("version " + std::to_string(version) + " has no data file " + in.path +
                       " (" + in.entry->problem + ")");
  detail::CheckpointFile file = open_checkpoint_file(in.path);
  in.file_bytes = detail::file_size(in.path);
  in.header = file.header();
  in.sizes = file.sizes();
  std::vector<detail::IndexRow> rows;
  try {
    rows = file.read_index();
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
  const int nranks = in.header.nranks;
  in.ranks.resize(static_cast<std::size_t>(nranks));
  std::unique_ptr<XXH3_state_t, Xxh3StateDeleter> state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) throw std::bad_alloc();
  std::uint64_t next_hash = 0;
  for (const detail::IndexRow &row : rows) {
    if (row.rank < 0 || row.rank >= nranks)
      throw damage_found(in.path + ": /index has a row of rank " + std::to_string(row.rank) +
                         " in a file of " + std::to_string(nranks) + " ranks");
    if (row.hash_offset != next_hash || row.hash_offset + row.nblocks > in.sizes.hashes)
      throw damage_found(in.path + ": /index row of rank " + std::to_string(row.rank) + " region " +
                         std::to_string(row.region_id) +
                         " points outside or out of order in /hashes");
    next_hash += row.nblocks;
    std::vector<std::uint64_t> hashes;
    try {
      hashes = file.read_u64("hashes", row.hash_offset, row.nblocks, false);
    } catch (const Error &e) {
      throw damage_found(one_line(e.what()));
    }
    XXH3_64bits_update(state.get(), hashes.data(), hashes.size() * sizeof(std::uint64_t));
    RegionInfo info;
    info.row = row;
    info.fingerprint = detail::hash_bytes(hashes.data(), hashes.size() * sizeof(std::uint64_t));
    RankInfo &rank = in.ranks[static_cast<std::size_t>(row.rank)];
    rank.regions.push_back(info);
    rank.bytes += row.bytes;
    rank.blocks += row.nblocks;
    rank.stored += row.nstored;
    rank.stored_bytes += row.data_bytes;
    ++in.regions;
    in.bytes += row.bytes;
    in.blocks += row.nblocks;
    in.stored += row.nstored;
    in.stored_bytes += row.data_bytes;
  }
  in.table_hash = XXH3_64bits_digest(state.get());
  try {
    file.close();
  } catch (const Error &e) {
    throw damage_found(one_line(e.what()));
  }
  return in;
}

std::optional<double> ratio(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return double(part) / double(whole);
}

void print_json(const detail::Catalog &catalog, const Inspection &in, int only_rank) {
  const detail::FileHeader &h = in.header;
  JsonWriter json(std::cout);
  json.begin_object();
  json.field("dir", catalog.dir());
  json.field("prefix", catalog.prefix());
  json.field("version", in.version);
  json.field("state", detail::to_string(in.entry->state));
  json.key("problem");
  if (in.entry->problem.empty())
    json.null();
  else
    json.value(in.entry->problem);
  json.field("file", in.path);
  json.field("file_bytes", in.file_bytes);
  json.field("format", detail::k_format_name);
  json.field("format_version", static_cast<std::int64_t>(h.format_version));
  json.field("hash", "xxh3-64");
  json.field("byte_order", "little-endian");
  json.field("step", h.step);
  json.field("kind", h.base ? "base" : "delta");
  json.field("base_version", h.base_version);
  json.field("parent_version", h.parent_version);
  json.key("chain");
  if (in.entry->record)
    json.array(in.entry->record->chain);
  else
    json.null();
  json.field("nranks", static_cast<std::int64_t>(h.nranks));
  json.field("block_size", h.block_size);
  json.field("created_unix", h.created_unix);
  json.field("created", utc_time(h.created_unix));
  json.field("library", h.library_version);
  json.field("topology", h.topology);
  json.field("config", h.config);
  json.key("commit");
  if (const auto &r = in.entry->record) {
    json.begin_object();
    json.field("file_bytes", r->file_bytes);
    json.field("state_bytes", r->state_bytes);
    json.field("written_bytes", r->written_bytes);
    json.field("blocks", r->blocks);
    json.field("dirty_blocks", r->dirty_blocks);
    json.field("seconds", r->seconds);
    json.field("time_unix", r->time_unix);
    json.field("time", utc_time(r->time_unix));
    json.end_object();
  } else {
    json.null();
  }
  json.key("totals");
  json.begin_object();
  json.field("regions", in.regions);
  json.field("state_bytes", in.bytes);
  json.field("blocks", in.blocks);
  json.field("stored_blocks", in.stored);
  json.field("stored_bytes", in.stored_bytes);
  json.field("dirty_ratio", ratio(in.stored, in.blocks));
  json.end_object();
  json.key("hashes");
  json.begin_object();
  json.field("count", in.sizes.hashes);
  json.field("xxh3", hex16(in.table_hash));
  json.end_object();
  json.key("ranks");
  json.begin_array();
  for (std::size_t r = 0; r < in.ranks.size(); ++r) {
    if (only_rank >= 0 && static_cast<int>(r) != only_rank) continue;
    const RankInfo &rank = in.ranks[r];
    json.begin_object();
    json.field("rank", static_cast<std::int64_t>(r));
    json.field("state_bytes", rank.bytes);
    json.field("blocks", rank.blocks);
    json.field("stored_blocks", rank.stored);
    json.field("stored_bytes", rank.stored_bytes);
    json.key("regions");
    json.begin_array();
    for (const RegionInfo &info : rank.regions) {
      const detail::IndexRow &row = info.row;
      json.begin_object();
      json.field("id", static_cast<std::int64_t>(row.region_id));
      json.field("name", std::string(row.name));
      json.field("type", type_text(row));
      json.field("elem_size", row.elem_size);
      json.field("count", row.count);
      json.field("bytes", row.bytes);
      json.field("blocks", row.nblocks);
      json.field("stored_blocks", row.nstored);
      json.field("stored_bytes", row.data_bytes);
      json.field("dirty_ratio", ratio(row.nstored, row.nblocks));
      json.field("hash_offset", row.hash_offset);
      json.field("stored_offset", row.stored_offset);
      json.field("data_offset", row.data_offset);
      json.field("hashes_xxh3", hex16(info.fingerprint));
      json.end_object();
    }
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  json.finish();
}

void print_text(const detail::Catalog &catalog, const Inspection &in, int only_rank) {
  const detail::FileHeader &h = in.header;
  const auto &record = in.entry->record;
  std::cout << "checkpoint version " << in.version << " in " << catalog.dir() << " (prefix "
            << catalog.prefix() << "): " << detail::to_string(in.entry->state) << "\n";
  auto line = [](const char *label, const std::string &value) {
    const std::size_t n = std::string(label).size();
    std::cout << "  " << label << std::string(n < 12 ? 12 - n : 1, ' ') << value << "\n";
  };
  if (!in.entry->problem.empty()) line("problem", in.entry->problem);
  line("file", in.path + ", " + human_bytes(double(in.file_bytes)));
  line("format", std::string(detail::k_format_name) + " format_version " +
                     std::to_string(h.format_version) + ", xxh3-64 block hashes, little-endian");
  line("step", std::to_string(h.step));
  std::string kind = kind_text(h.base, h.base_version);
  if (!h.base) kind += ", parent " + std::to_string(h.parent_version);
  if (record) {
    kind += " (chain";
    for (std::int64_t v : record->chain)
      kind += " " + std::to_string(v);
    kind += ")";
  }
  line("kind", kind);
  line("ranks", std::to_string(h.nranks));
  line("block size",
       human_bytes(double(h.block_size)) + " (" + std::to_string(h.block_size) + " bytes)");
  line("created", local_time(h.created_unix));
  if (record)
    line("committed",
         local_time(record->time_unix) + ", checkpoint took " + seconds_text(record->seconds));
  else
    line("committed", "no (no valid commit record)");
  line("library", h.library_version.empty() ? "-" : h.library_version);
  line("topology", h.topology.empty() ? "-" : h.topology);
  {
    std::string config = h.config;
    for (auto &c : config)
      if (c == '\n') c = ' ';
    line("config", config.empty() ? "-" : config);
  }
  line("state", human_bytes(double(in.bytes)) + " in " + std::to_string(in.regions) +
                    " region(s), " + std::to_string(in.blocks) + " block(s)");
  line("stored", std::to_string(in.stored) + " of " + std::to_string(in.blocks) + " block(s), " +
                     human_bytes(double(in.stored_bytes)) + " (dirty ratio " +
                     percent(in.stored, in.blocks) + ")");
  line("hashes", std::to_string(in.sizes.hashes) + " block hash(es), XXH3-64 of /hashes " +
                     hex16(in.table_hash));
  std::cout << "\n";
  TextTable table({{"RANK", true},
                   {"REGION", true},
                   {"NAME"},
                   {"TYPE"},
                   {"COUNT", true},
                   {"BYTES", true},
                   {"BLOCKS", true},
                   {"STORED", true},
                   {"DIRTY", true},
                   {"HASHES XXH3"}});
  for (std::size_t r = 0; r < in.ranks.size(); ++r) {
    if (only_rank >= 0 && static_cast<int>(r) != only_rank) continue;
    for (const RegionInfo &info : in.ranks[r].regions) {
      const detail::IndexRow &row = info.row;
      table.add_row({std::to_string(r), std::to_string(row.region_id), row.name, type_text(row),
                     std::to_string(row.count), std::to_string(row.bytes),
                     std::to_string(row.nblocks), std::to_string(row.nstored),
                     percent(row.nstored, row.nblocks), hex16(info.fingerprint)});
    }
  }
  if (table.empty())
    std::cout << "  (no regions" << (only_rank >= 0 ? " on this rank" : "") << ")\n";
  else
    table.print(std::cout);
}

} // namespace

int run_inspect(const Arguments &args) {
  CommandLine cli("ckpt inspect [options] [DIR] [VERSION]",
                  "Shows one checkpoint version (default: the newest committed one): format "
                  "version, step, kind and chain, ranks, block size, creation and commit times, "
                  "the library version and node topology recorded at write time, and for each "
                  "rank its regions (id, name, type, count, bytes, blocks, blocks stored in this "
                  "file, dirty ratio, XXH3-64 of the region's block hashes). Reads the index and "
                  "the hashes, not the data: `ckpt verify` checks the data.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("rank", po::value<int>()->value_name("R"),
                              "show the regions of rank R only");
  cli.set_operands({"VERSION"});
  if (!cli.parse(args)) return k_exit_ok;
  const detail::Catalog catalog = open_catalog(resolve_location(cli));
  const std::int64_t version = chosen_version(cli, catalog, "; name one to inspect it anyway");
  MpiScope mpi;
  const Inspection in = inspect(catalog, version);
  int only_rank = -1;
  if (cli.has("rank")) {
    only_rank = cli.get<int>("rank");
    if (only_rank < 0 || only_rank >= in.header.nranks)
      throw bad_input("--rank " + std::to_string(only_rank) + ": version " +
                      std::to_string(version) + " has ranks 0 to " +
                      std::to_string(in.header.nranks - 1));
  }
  if (cli.json())
    print_json(catalog, in, only_rank);
  else
    print_text(catalog, in, only_rank);
  return k_exit_ok;
}

} // namespace ckpt::tool
