#include "bench_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace ckpt::bench {

void check_mpi(int rc, const char *call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
}

MpiRuntime::MpiRuntime(int &argc, char **&argv) {
  // As an application that wants libckpt's background flush does.
  int provided = MPI_THREAD_SINGLE;
  check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m_size);
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized == 0) MPI_Finalize();
}

int run_main(int argc, char **argv, const char *program,
             int (*body)(const MpiRuntime &mpi, int argc, char **argv)) {
  try {
    const MpiRuntime mpi(argc, argv);
    try {
      return body(mpi, argc, argv);
    } catch (const std::exception &e) {
      std::fprintf(stderr, "%s: [rank %d] %s\n", program, mpi.rank(), e.what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
      return 1;
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

std::uint64_t parse_size(const std::string &text) {
  std::size_t used = 0;
  unsigned long long number = 0;
  try {
    number = std::stoull(text, &used);
  } catch (const std::exception &) {
    throw std::invalid_argument("not a size: '" + text + "'");
  }
  std::string unit = text.substr(used);
  unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
  std::uint64_t scale = 1;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "K" || unit == "KiB")
    scale = 1ULL << 10;
  else if (unit == "M" || unit == "MiB")
    scale = 1ULL << 20;
  else if (unit == "G" || unit == "GiB")
    scale = 1ULL << 30;
  else if (unit == "T" || unit == "TiB")
    scale = 1ULL << 40;
  else
    throw std::invalid_argument("unknown unit in size '" + text + "' (use B, KiB, MiB, GiB)");
  if (number > UINT64_MAX / scale) throw std::invalid_argument("size too large: '" + text + "'");
  return number * scale;
}

namespace {
std::vector<std::string> split_commas(const std::string &text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty()) parts.push_back(part);
  if (parts.empty()) throw std::invalid_argument("empty list: '" + text + "'");
  return parts;
}
} // namespace

bool parse_command_line(int argc, char **argv,
                        const boost::program_options::options_description &desc,
                        boost::program_options::variables_map &vm, int rank) {
  namespace po = boost::program_options;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  if (vm.count("help") == 0) return true;
  if (rank == 0) std::cout << desc << '\n';
  return false;
}

std::map<std::string, std::string> parse_settings(const std::vector<std::string> &items,
                                                  const std::vector<std::string> &reserved) {
  std::map<std::string, std::string> settings;
  for (const auto &item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--set takes key=value, got '" + item + "'");
    const std::string key = item.substr(0, eq);
    if (std::find(reserved.begin(), reserved.end(), key) != reserved.end())
      throw std::invalid_argument("--set " + key + ": the benchmark sets this key itself");
    settings[key] = item.substr(eq + 1);
  }
  return settings;
}

std::string describe_settings(const std::map<std::string, std::string> &settings) {
  std::string text;
  for (const auto &[key, value] : settings)
    text += (text.empty() ? "" : ", ") + key + "=" + value;
  return text.empty() ? "-" : text;
}

std::vector<std::uint64_t> parse_size_list(const std::string &text) {
  std::vector<std::uint64_t> sizes;
  for (const auto &part : split_commas(text))
    sizes.push_back(parse_size(part));
  return sizes;
}

std::vector<double> parse_number_list(const std::string &text) {
  std::vector<double> numbers;
  for (const auto &part : split_commas(text)) {
    std::size_t used = 0;
    double value = 0.0;
    try {
      value = std::stod(part, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (used != part.size() || !(value >= 0.0))
      throw std::invalid_argument("not a non-negative number: '" + part + "'");
    numbers.push_back(value);
  }
  return numbers;
}

std::string format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string text(length > 0 ? static_cast<std::size_t>(length) : 0, '\0');
  if (length > 0) std::vsnprintf(text.data(), text.size() + 1, fmt, args);
  va_end(args);
  return text;
}

std::string format_bytes(std::uint64_t bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (value == std::floor(value)) return format("%.0f %s", value, units[unit]);
  return format("%.3g %s", value, units[unit]);
}

Summary summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  s.median = n % 2 == 1 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

std::vector<int> rotated_order(int count, int rep) {
  std::vector<int> order;
  for (int i = 0; i < count; ++i)
    order.push_back((i + rep) % count);
  return order;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1.0;
  if (!(in >> load)) return -1.0;
  return load;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

int machine_cores() { return static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); }

void fill_random(void *data, std::size_t bytes, std::uint64_t seed) {
  Splitmix64 rng(seed);
  auto *out = static_cast<unsigned char *>(data);
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    const std::uint64_t word = rng.next();
    std::memcpy(out + i, &word, 8);
  }
  if (i < bytes) {
    const std::uint64_t word = rng.next();
    std::memcpy(out + i, &word, bytes - i);
  }
}

Json &Json::set(const std::string &key, Json value) {
  auto *members = std::get_if<Object>(&m_value);
  if (members == nullptr) throw std::logic_error("Json::set on a value that is not an object");
  members->emplace_back(key, std::move(value));
  return *this;
}

Json &Json::push(Json value) {
  auto *items = std::get_if<Array>(&m_value);
  if (items == nullptr) throw std::logic_error("Json::push on a value that is not an array");
  items->push_back(std::move(value));
  return *this;
}

namespace {
void write_string(std::ostream &out, const std::string &text) {
  out << '"';
  for (const char c : text) {
    switch (c) {
    case '"': out << "\\\""; break;
    case '\\': out << "\\\\"; break;
    case '\n': out << "\\n"; break;
    case '\t': out << "\\t"; break;
    case '\r': out << "\\r"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        out << format("\\u%04x", c);
      else
        out << c;
    }
  }
  out << '"';
}
} // namespace

void Json::write(std::ostream &out, int indent) const {
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  const std::string end_pad(static_cast<std::size_t>(indent), ' ');
  if (std::holds_alternative<std::nullptr_t>(m_value)) {
    out << "null";
  } else if (const auto *b = std::get_if<bool>(&m_value)) {
    out << (*b ? "true" : "false");
  } else if (const auto *i = std::get_if<std::int64_t>(&m_value)) {
    out << *i;
  } else if (const auto *d = std::get_if<double>(&m_value)) {
    if (std::isfinite(*d))
      out << format("%.9g", *d);
    else
      out << "null";
  } else if (const auto *s = std::get_if<std::string>(&m_value)) {
    write_string(out, *s);
  } else if (const auto *items = std::get_if<Array>(&m_value)) {
    if (items->empty()) {
      out << "[]";
      return;
    }
    out << "[\n";
    for (std::size_t k = 0; k < items->size(); ++k) {
      out << pad;
      (*items)[k].write(out, indent + 2);
      out << (k + 1 < items->size() ? ",\n" : "\n");
    }
    out << end_pad << ']';
  } else if (const auto *members = std::get_if<Object>(&m_value)) {
    if (members->empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    for (std::size_t k = 0; k < members->size(); ++k) {
      out << pad;
      write_string(out, (*members)[k].first);
      out << ": ";
      (*members)[k].second.write(out, indent + 2);
      out << (k + 1 < members->size() ? ",\n" : "\n");
    }
    out << end_pad << '}';
  }
}

bool emit_json(const Json &results, bool to_stdout, const std::string &path) {
  if (!path.empty()) {
    std::ofstream out(path);
    results.write(out);
    out << '\n';
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  if (to_stdout) {
    results.write(std::cout);
    std::cout << '\n';
  }
  return to_stdout;
}

Json to_json(const Summary &summary) {
  return Json::object()
      .set("median", summary.median)
      .set("min", summary.min)
      .set("max", summary.max)
      .set("n", summary.count);
}

Table::Table(std::vector<std::string> headers, std::size_t left_columns)
    : m_headers(std::move(headers)), m_left_columns(left_columns) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(m_headers.size());
  m_rows.push_back(std::move(cells));
}

void Table::print(std::ostream &out) const {
  std::vector<std::size_t> width(m_headers.size());
  for (std::size_t c = 0; c < m_headers.size(); ++c)
    width[c] = m_headers[c].size();
  for (const auto &row : m_rows)
    for (std::size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string> &cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) out << "  ";
      out << (c < m_left_columns ? std::left : std::right) << std::setw(static_cast<int>(width[c]))
          << cells[c];
    }
    out << '\n';
  };
  line(m_headers);
  std::size_t total = 0;
  for (const auto w : width)
    total += w + 2;
  out << std::string(total > 2 ? total - 2 : 0, '-') << '\n';
  for (const auto &row : m_rows)
    line(row);
  out << std::left;
}

} // namespace ckpt::bench
