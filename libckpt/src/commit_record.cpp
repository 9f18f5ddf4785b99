#include "commit_record.hpp"

#include "block_hasher.hpp"
#include "error.hpp"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <sstream>

namespace ckpt::detail {
namespace {

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

const char *const k_magic = "# libckpt commit record";

} // namespace

std::string CommitRecord::serialize() const {
  std::ostringstream out;
  out.precision(9);
  out << k_magic << "\n";
  out << "format_version = " << k_commit_format_version << "\n";
  out << "version = " << version << "\n";
  out << "step = " << step << "\n";
  out << "kind = " << (base ? "base" : "delta") << "\n";
  out << "chain =";
  for (auto v : chain)
    out << ' ' << v;
  out << "\n";
  out << "nranks = " << nranks << "\n";
  out << "block_size = " << block_size << "\n";
  out << "file = " << file << "\n";
  out << "file_bytes = " << file_bytes << "\n";
  out << "state_bytes = " << state_bytes << "\n";
  out << "written_bytes = " << written_bytes << "\n";
  out << "blocks = " << blocks << "\n";
  out << "dirty_blocks = " << dirty_blocks << "\n";
  out << "seconds = " << seconds << "\n";
  out << "time_unix = " << time_unix << "\n";
  std::string body = out.str();
  body += "record_hash = " + hex16(hash_bytes(body.data(), body.size())) + "\n";
  return body;
}

CommitRecord CommitRecord::parse(const std::string &text, const std::string &origin) {
  const std::string key_line = "record_hash = ";
  const auto pos = text.rfind(key_line);
  if (text.rfind(k_magic, 0) != 0 || pos == std::string::npos)
    throw FormatError("commit record " + origin + " is damaged (no header or no record_hash)");
  const std::string body = text.substr(0, pos);
  std::string stored = text.substr(pos + key_line.size());
  while (!stored.empty() && (stored.back() == '\n' || stored.back() == '\r'))
    stored.pop_back();
  if (stored != hex16(hash_bytes(body.data(), body.size())))
    throw FormatError("commit record " + origin + " is damaged (record_hash mismatch)");

  std::map<std::string, std::string> kv;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) {
      if (line.size() > 1 && line.back() == '=') kv[line.substr(0, line.find(' '))] = "";
      continue;
    }
    kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  auto need = [&](const char *key) -> const std::string & {
    auto it = kv.find(key);
    if (it == kv.end()) throw FormatError("commit record " + origin + " lacks '" + key + "'");
    return it->second;
  };
  CommitRecord r;
  try {
    if (std::stoi(need("format_version")) > k_commit_format_version)
      throw FormatError("commit record " + origin + " has format_version " +
                        need("format_version") + ", newer than this libckpt understands (" +
                        std::to_string(k_commit_format_version) + ")");
    r.version = std::stoll(need("version"));
    r.step = std::stoll(need("step"));
    r.base = need("kind") == "base";
    std::istringstream chain(need("chain"));
    for (std::int64_t v; chain >> v;)
      r.chain.push_back(v);
    r.nranks = std::stoi(need("nranks"));
    r.block_size = std::stoull(need("block_size"));
    r.file = need("file");
    r.file_bytes = std::stoull(need("file_bytes"));
    r.state_bytes = std::stoull(need("state_bytes"));
    r.written_bytes = std::stoull(need("written_bytes"));
    r.blocks = std::stoull(need("blocks"));
    r.dirty_blocks = std::stoull(need("dirty_blocks"));
    r.seconds = std::stod(need("seconds"));
    r.time_unix = std::stoll(need("time_unix"));
  } catch (const FormatError &) {
    throw;
  } catch (const std::exception &) {
    throw FormatError("commit record " + origin + " has a malformed value");
  }
  if (r.chain.empty() || r.chain.back() != r.version || (r.base != (r.chain.size() == 1)))
    throw FormatError("commit record " + origin + " has an inconsistent chain");
  return r;
}

} // namespace ckpt::detail
