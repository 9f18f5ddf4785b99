// ckpt merge: folds the delta chain of a version into a new base version
// holding every block, so that the version no longer needs its chain.
#include "block_hasher.hpp"
#include "chain_reader.hpp"
#include "commands.hpp"
#include "commit_record.hpp"
#include "fs.hpp"
#include "global_storage.hpp"
#include "json_writer.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::tool {
namespace {

constexpr std::uint64_t k_max_write = std::uint64_t(1) << 28;

struct MergeResult {
  std::int64_t version = 0;
  std::vector<std::int64_t> chain;
  std::int64_t new_version = 0;
  std::string file;
  std::uint64_t file_bytes = 0;
  std::uint64_t state_bytes = 0;
  std::uint64_t regions = 0;
  int nranks = 0;
  double seconds = 0;
};

/// Writes the new base file and its commit record. The caller has checked the chain.
MergeResult merge(const detail::Catalog &catalog, const detail::CommitRecord &record) {
  const double t0 = MPI_Wtime();
  MergeResult result;
  result.version = record.version;
  result.chain = record.chain;
  ChainReader reader(catalog, record.chain);
  const detail::FileHeader &old = reader.newest_header();

  // Every block of every region is stored; rows stay in rank order.
  std::vector<detail::IndexRow> rows = reader.regions();
  for (detail::IndexRow &row : rows) {
    row.nstored = row.nblocks;
    row.data_bytes = row.bytes;
  }
  // Global regions keep their pieces, their block stores and their views.
  const std::vector<detail::PieceRow> &pieces = reader.pieces();
  const detail::CheckpointFile::Sizes sizes = detail::assign_offsets(rows, pieces);

  const std::int64_t version = catalog.max_version() + 1;
  const std::string name = detail::data_file_name(catalog.prefix(), version);
  const std::string path = catalog.data_path(version);
  if (detail::path_exists(path) || detail::path_exists(catalog.commit_path(version)))
    throw bad_input(path + " already exists: is a job writing to " + catalog.dir() + "?");

  detail::FileHeader header;
  header.version = version;
  header.step = old.step;
  header.base = true;
  header.base_version = version;
  header.parent_version = 0;
  header.nranks = old.nranks;
  header.block_size = old.block_size;
  header.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  header.library_version = std::string("libckpt ") + CKPT_VERSION_STRING +
                           " (ckpt merge of version " + std::to_string(record.version) + ")";
  header.topology = old.topology; // the node that produced the data
  header.config = old.config;

  detail::CheckpointFile file;
  bool created = false;
  try {
    try {
      file = detail::CheckpointFile::create(path, MPI_COMM_SELF, header, sizes);
      created = true;
      detail::reserve_file_space(path, file.allocated_bytes());
      file.write_index(rows, true);
      file.write_pieces(pieces, true);
    } catch (const Error &e) {
      throw bad_input("cannot write " + path + ": " + one_line(e.what()));
    }
    std::vector<unsigned char> buffer;
    std::vector<Damage> damage;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const detail::IndexRow &newest = reader.regions()[i];
      const detail::IndexRow &row = rows[i];
      if (reader.verify(newest, buffer, damage, 1) != 0)
        throw damage_found(
            "version " + std::to_string(record.version) + " does not verify, nothing merged: " +
            (damage.empty() ? std::string("damaged blocks") : damage.front().describe()));
      std::vector<std::uint64_t> hashes(row.nblocks), stored(row.nblocks);
      detail::hash_blocks(buffer.data(), buffer.size(), reader.block_size(), hashes.data());
      for (std::uint64_t b = 0; b < row.nblocks; ++b)
        stored[b] = b;
      try {
        file.write_u64("hashes", row.hash_offset, hashes);
        file.write_u64("stored_blocks", row.stored_offset, stored);
        for (std::uint64_t at = 0; at < row.bytes; at += k_max_write) {
          detail::DataOp op;
          op.memory = buffer.data() + at;
          op.bytes = std::min(k_max_write, row.bytes - at);
          op.file_offset = row.data_offset + at;
          if (detail::is_global_row(pieces, row))
            file.write_store(row.region_id, op);
          else
            file.write_data(op);
        }
      } catch (const Error &e) {
        throw bad_input("cannot write " + path + ": " + one_line(e.what()));
      }
      result.state_bytes += row.bytes;
      ++result.regions;
    }
    try {
      file.close();
      std::vector<std::uint64_t> all_stored;
      for (const detail::IndexRow &row : rows)
        for (std::uint64_t b = 0; b < row.nblocks; ++b)
          all_stored.push_back(b);
      detail::add_region_views(path, {detail::ViewFile{name, rows, all_stored, pieces}},
                               reader.block_size());
      detail::fsync_file(path);
    } catch (const Error &e) {
      throw bad_input("cannot write " + path + ": " + one_line(e.what()));
    }
  } catch (...) {
    // The path did not exist before: whatever is there now is ours.
    if (created) file.abandon(MPI_COMM_SELF, true);
    try {
      detail::remove_file(path);
    } catch (const std::exception &) {
    }
    throw;
  }

  // Commit: the record is written last, atomically.
  detail::CommitRecord rec;
  rec.version = version;
  rec.step = old.step;
  rec.base = true;
  rec.chain = {version};
  rec.nranks = old.nranks;
  rec.block_size = old.block_size;
  rec.file = name;
  rec.file_bytes = detail::file_size(path);
  rec.state_bytes = result.state_bytes;
  rec.written_bytes = result.state_bytes;
  rec.blocks = sizes.hashes;
  rec.dirty_blocks = sizes.hashes;
  rec.seconds = MPI_Wtime() - t0;
  rec.time_unix = static_cast<std::int64_t>(std::time(nullptr));
  try {
    detail::write_file_atomic(catalog.commit_path(version), rec.serialize(), true);
  } catch (const Error &e) {
    try {
      detail::remove_file(path);
    } catch (const std::exception &) {
    }
    throw bad_input("cannot write the commit record of version " + std::to_string(version) + ": " +
                    one_line(e.what()));
  }
  result.new_version = version;
  result.file = path;
  result.file_bytes = rec.file_bytes;
  result.nranks = old.nranks;
  result.seconds = rec.seconds;
  return result;
}

} // namespace

int run_merge(const Arguments &args) {
  CommandLine cli(
      "ckpt merge [options] [DIR] VERSION",
      "Folds the delta chain of VERSION (its base and every delta up to VERSION) into a new "
      "base version with the next free version number: one file holding every block of every "
      "region of every rank, with the step, ranks, block size and topology of VERSION. The "
      "chain is verified block by block first; nothing is written when it is damaged. The new "
      "version is the newest committed one, so a restart uses it and restores exactly the "
      "state of VERSION. The old chain stays; `ckpt prune --keep 1` removes it. It takes the "
      "directory's lock, so it refuses a directory a running job is writing to.");
  cli.add_location_options();
  cli.add_json_option();
  cli.set_operands({"VERSION"});
  if (!cli.parse(args)) return k_exit_ok;
  if (cli.operands().empty()) throw bad_input("which version? (ckpt merge [DIR] VERSION)");
  const Location location = resolve_location(cli);
  const std::int64_t version = parse_version(cli.operands()[0]);
  // Writing a version takes the directory's lock (a running job holds it),
  // and the catalog is read under it.
  const detail::DirectoryLock lock = lock_directory(location, "ckpt merge");
  const detail::Catalog catalog = open_catalog(location);
  const detail::VersionEntry &entry = require_version(catalog, version);
  if (entry.state != detail::VersionState::Committed)
    throw damage_found("cannot merge version " + std::to_string(version) + ": it is " +
                       detail::to_string(entry.state) + " (" + entry.problem + ")");
  std::string problem;
  if (!catalog.chain_of(version, problem))
    throw damage_found("cannot merge version " + std::to_string(version) + ": " + problem);
  const detail::CommitRecord &record = *entry.record;
  if (record.base) {
    if (cli.json()) {
      JsonWriter json(std::cout);
      json.begin_object();
      json.field("version", version);
      json.field("merged", false);
      json.field("reason", "already a base");
      json.end_object();
      json.finish();
    } else {
      std::cout << "version " << version << " is already a base: nothing to merge\n";
    }
    return k_exit_ok;
  }

  MpiScope mpi;
  const MergeResult r = merge(catalog, record);
  if (cli.json()) {
    JsonWriter json(std::cout);
    json.begin_object();
    json.field("version", r.version);
    json.field("merged", true);
    json.field("chain", r.chain);
    json.field("new_version", r.new_version);
    json.field("file", r.file);
    json.field("file_bytes", r.file_bytes);
    json.field("state_bytes", r.state_bytes);
    json.field("regions", r.regions);
    json.field("nranks", static_cast<std::int64_t>(r.nranks));
    json.field("seconds", r.seconds);
    json.end_object();
    json.finish();
  } else {
    std::string chain;
    for (std::int64_t v : r.chain)
      chain += (chain.empty() ? "" : " ") + std::to_string(v);
    std::cout << "merged version " << r.version << " (chain " << chain << ") into base version "
              << r.new_version << ": " << r.file << ", " << human_bytes(double(r.file_bytes))
              << ", " << r.regions << " region(s) of " << r.nranks << " rank(s), "
              << human_bytes(double(r.state_bytes)) << " of state, verified, "
              << seconds_text(r.seconds) << "\n"
              << "restart now uses version " << r.new_version
              << "; `ckpt prune --keep 1` removes the old chain\n";
  }
  return k_exit_ok;
}

} // namespace ckpt::tool
