// ckpt extract: one region of one version, rebuilt through its chain with the
// one chain reader (every block verified, as restart does), written as a
// typed HDF5 dataset or a NumPy .npy file; a global region as its global
// array (docs/FORMAT.md 2.5). Reads that region's blocks only.
#include "chain_reader.hpp"
#include "checkpoint_file.hpp"
#include "commands.hpp"
#include "fs.hpp"
#include "global_region.hpp"
#include "h5.hpp"
#include "json_writer.hpp"
#include "region.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <ckpt/ckpt.hpp>

#include <hdf5.h>

#include <cstring>
#include <fstream>
#include <iostream>

namespace ckpt::tool {
namespace {

/// Bytes this process has read so far (rchar of /proc/self/io: every
/// read(), cached or not); 0 where the file does not exist.
std::uint64_t process_read_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value)
    if (key == "rchar:") return value;
  return 0;
}

struct Extracted {
  std::string name;
  ckpt_type type = CKPT_BYTE;
  std::uint64_t elem_size = 1;
  std::vector<std::uint64_t> shape;
  std::vector<unsigned char> bytes;
  bool global = false;
  int rank = -1; // the rank of a per-rank region or of one piece
};

const char *npy_descr(ckpt_type type) {
  switch (type) {
  case CKPT_CHAR: return "|i1";
  case CKPT_INT32: return "<i4";
  case CKPT_UINT32: return "<u4";
  case CKPT_INT64: return "<i8";
  case CKPT_UINT64: return "<u8";
  case CKPT_FLOAT: return "<f4";
  case CKPT_DOUBLE: return "<f8";
  case CKPT_BYTE: break;
  }
  return "|u1";
}

/// NumPy format 1.0: magic, header length, a Python dict padded to 64 bytes.
std::string npy_bytes(const Extracted &x) {
  std::string shape = "(";
  for (std::uint64_t d : x.shape)
    shape += std::to_string(d) + ",";
  if (x.shape.size() > 1) shape.pop_back();
  shape += ")";
  std::string header = std::string("{'descr': '") + npy_descr(x.type) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char *>(x.bytes.data()), x.bytes.size());
  return out;
}

void write_hdf5(const std::string &path, const Extracted &x, std::int64_t version,
                std::int64_t step) {
  detail::silence_hdf5_errors();
  detail::H5Id file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid()) throw bad_input("cannot create " + path + " (it must not exist)");
  std::vector<hsize_t> dims(x.shape.begin(), x.shape.end());
  detail::H5Id space(detail::check_h5(
      H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "H5Screate_simple"));
  detail::H5Id d(
      detail::check_h5(H5Dcreate2(file.get(), x.name.c_str(), detail::file_type_of(x.type),
                                  space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       "cannot create dataset " + x.name + " in " + path));
  if (!x.bytes.empty())
    detail::check_h5_status(H5Dwrite(d.get(), detail::file_type_of(x.type), H5S_ALL, H5S_ALL,
                                     H5P_DEFAULT, x.bytes.data()),
                            "cannot write " + path);
  for (const auto &[key, value] : {std::pair<const char *, std::int64_t>{"version", version},
                                   {"step", step},
                                   {"rank", x.rank}}) {
    detail::H5Id s(detail::check_h5(H5Screate(H5S_SCALAR), "H5Screate"));
    detail::H5Id a(detail::check_h5(
        H5Acreate2(d.get(), key, H5T_STD_I64LE, s.get(), H5P_DEFAULT, H5P_DEFAULT), "H5Acreate2"));
    detail::check_h5_status(H5Awrite(a.get(), H5T_NATIVE_INT64, &value), "H5Awrite");
  }
  d.reset();
  const hid_t id = file.release();
  if (H5Fclose(id) < 0) throw bad_input("cannot close " + path);
}

/// Rebuilds and verifies `row` into `out`; damage_found naming the block.
void read_verified(ChainReader &reader, const detail::IndexRow &row,
                   std::vector<unsigned char> &out, std::int64_t version) {
  std::vector<Damage> damage;
  if (reader.verify(row, out, damage, 1) != 0)
    throw damage_found(
        "version " + std::to_string(version) + " does not verify: " +
        (damage.empty() ? std::string("damaged blocks") : damage.front().describe()));
}

Extracted extract(ChainReader &reader, const std::string &name, int rank, std::int64_t version) {
  Extracted x;
  x.name = name;
  std::vector<const detail::IndexRow *> rows;
  for (const detail::IndexRow &row : reader.regions())
    if (std::strncmp(row.name, name.c_str(), sizeof row.name) == 0) rows.push_back(&row);
  if (rows.empty())
    throw bad_input("version " + std::to_string(version) + " has no region named '" + name + "'");
  std::vector<const detail::PieceRow *> pieces;
  for (const detail::PieceRow &p : reader.pieces())
    if (std::strncmp(p.name, name.c_str(), sizeof p.name) == 0) pieces.push_back(&p);
  const detail::IndexRow *only = nullptr;
  if (rank >= 0) {
    for (const detail::IndexRow *row : rows)
      if (row->rank == rank) only = row;
    if (!only)
      throw bad_input("version " + std::to_string(version) + ": rank " + std::to_string(rank) +
                      " has no region '" + name + "'");
  } else if (pieces.empty()) {
    if (rows.size() > 1)
      throw bad_input("region '" + name + "' is per-rank and " + std::to_string(rows.size()) +
                      " ranks have it: choose one with --rank");
    only = rows.front();
  }
  const detail::IndexRow &first = only ? *only : *rows.front();
  x.type = static_cast<ckpt_type>(first.type);
  x.elem_size = first.elem_size;
  if (only) {
    // One rank's region, or one rank's piece of a global one.
    x.rank = only->rank;
    read_verified(reader, *only, x.bytes, version);
    for (const detail::PieceRow *p : pieces)
      if (p->rank == only->rank) {
        x.global = false;
        x.shape.assign(p->dims, p->dims + p->ndims);
      }
    if (x.shape.empty()) x.shape = {x.type == CKPT_BYTE ? only->bytes : only->count};
    if (x.type == CKPT_BYTE) x.elem_size = 1;
    return x;
  }
  // The global array, piece by piece.
  x.global = true;
  const detail::PieceRow &shape = *pieces.front();
  x.shape.assign(shape.global_dims, shape.global_dims + shape.ndims);
  x.bytes.resize(shape.global_box().count() * x.elem_size);
  std::vector<unsigned char> piece;
  for (const detail::PieceRow *p : pieces)
    for (const detail::IndexRow *row : rows)
      if (row->rank == p->rank && !p->box().empty()) {
        read_verified(reader, *row, piece, version);
        detail::copy_box(p->box(), piece.data(), 0, p->box().count(), shape.global_box(),
                         x.bytes.data(), x.elem_size);
      }
  return x;
}

} // namespace

int run_extract(const Arguments &args) {
  CommandLine cli("ckpt extract [options] [DIR] [VERSION] --region NAME -o FILE",
                  "Writes one region of one version (default: the newest committed one), rebuilt "
                  "through its delta chain and verified block by block as restart does, to FILE: "
                  "a NumPy array when FILE ends in .npy, else a new HDF5 file with one dataset "
                  "named after the region (typed, row-major). A global region gives its global "
                  "array, or with --rank R that rank's piece; a per-rank region needs --rank "
                  "when several ranks have it. Reads only that region's blocks.");
  cli.add_location_options();
  cli.add_json_option();
  cli.options().add_options()("region", po::value<std::string>()->value_name("NAME"),
                              "the region's name")("rank", po::value<int>()->value_name("R"),
                                                   "one rank's region or piece")(
      "output,o", po::value<std::string>()->value_name("FILE"), "the file to write (new)");
  cli.set_operands({"VERSION"});
  if (!cli.parse(args)) return k_exit_ok;
  if (!cli.has("region")) throw bad_input("which region? (--region NAME)");
  if (!cli.has("output")) throw bad_input("where to? (-o FILE, .npy or HDF5)");
  const std::string region = cli.get<std::string>("region");
  const std::string output = cli.get<std::string>("output");
  const int rank = cli.has("rank") ? cli.get<int>("rank") : -1;
  if (detail::path_exists(output)) throw bad_input(output + " exists; extract writes a new file");
  const detail::Catalog catalog = open_catalog(resolve_location(cli));
  const std::int64_t version = chosen_version(cli, catalog);
  std::string problem;
  const auto chain = catalog.chain_of(version, problem);
  if (!chain) throw damage_found(problem);
  MpiScope mpi;
  const std::uint64_t read_before = process_read_bytes();
  ChainReader reader(catalog, *chain);
  const std::int64_t step = reader.newest_header().step;
  const Extracted x = extract(reader, region, rank, version);
  const std::uint64_t read_bytes = process_read_bytes() - read_before;
  const bool npy = output.size() > 4 && output.compare(output.size() - 4, 4, ".npy") == 0;
  if (npy)
    detail::write_file_atomic(output, npy_bytes(x), true);
  else
    write_hdf5(output, x, version, step);
  if (cli.json()) {
    JsonWriter json(std::cout);
    json.begin_object();
    json.field("dir", catalog.dir());
    json.field("version", version);
    json.field("step", step);
    json.field("chain", *chain);
    json.field("region", x.name);
    json.field("global", x.global);
    if (x.rank >= 0) json.field("rank", x.rank);
    json.field("type", std::string(detail::type_name(x.type)));
    json.field("elem_size", x.elem_size);
    json.field("shape", x.shape);
    json.field("bytes", static_cast<std::uint64_t>(x.bytes.size()));
    json.field("read_bytes", read_bytes);
    json.field("output", output);
    json.field("format", std::string(npy ? "npy" : "hdf5"));
    json.end_object();
    json.finish();
  } else {
    std::string dims;
    for (std::uint64_t d : x.shape)
      dims += (dims.empty() ? "" : " x ") + std::to_string(d);
    std::cout << "extracted " << (x.global ? "global region '" : "region '") << x.name << "'"
              << (x.rank >= 0 ? " of rank " + std::to_string(x.rank) : std::string())
              << " of version " << version << " (step " << step
              << "): " << detail::type_name(x.type) << "[" << dims << "], "
              << human_bytes(double(x.bytes.size())) << ", verified; read "
              << human_bytes(double(read_bytes)) << " -> " << output << "\n";
  }
  return k_exit_ok;
}

} // namespace ckpt::tool
