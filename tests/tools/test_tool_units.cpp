// Unit tests of the ckpt tool's pieces that need no checkpoint files: the
// JSON writer, the stats-file parser, the SVG picture of the stats, one-line
// errors, version arguments and text tables.
#include "json_writer.hpp"
#include "stats_file.hpp"
#include "stats_svg.hpp"
#include "text_format.hpp"
#include "tool_cli.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

using namespace ckpt::tool;

TEST(ToolJsonWriter, NestedDocument) {
  std::ostringstream out;
  JsonWriter json(out);
  json.begin_object();
  json.field("name", "a \"quoted\"\\path\n\tline\x01");
  json.field("count", std::uint64_t{18446744073709551615u});
  json.field("delta", std::int64_t{-3});
  json.field("ratio", 0.25);
  json.field("nan", std::numeric_limits<double>::quiet_NaN());
  json.field("ok", true);
  json.field("list", std::vector<std::int64_t>{1, 2});
  json.key("empty");
  json.begin_array();
  json.end_array();
  json.key("none");
  json.null();
  json.end_object();
  json.finish();
  EXPECT_EQ(out.str(), "{\n"
                       "  \"name\": \"a \\\"quoted\\\"\\\\path\\n\\tline\\u0001\",\n"
                       "  \"count\": 18446744073709551615,\n"
                       "  \"delta\": -3,\n"
                       "  \"ratio\": 0.25,\n"
                       "  \"nan\": null,\n"
                       "  \"ok\": true,\n"
                       "  \"list\": [\n    1,\n    2\n  ],\n"
                       "  \"empty\": [],\n"
                       "  \"none\": null\n"
                       "}\n");
}

TEST(ToolJsonWriter, RejectsMisuse) {
  std::ostringstream out;
  JsonWriter json(out);
  json.begin_object();
  EXPECT_THROW(json.value(1), std::logic_error); // a value without a key
  EXPECT_THROW(json.end_array(), std::logic_error);
  EXPECT_THROW(json.finish(), std::logic_error);
}

TEST(ToolStatsFile, ParsesTheRuntimeLine) {
  const StatsEntry e = parse_stats_line(
      R"({"version":3,"step":15,"kind":"delta","base_version":1,"state_bytes":35920,)"
      R"("written_bytes":8192,"blocks":8,"dirty_blocks":2,"seconds":0.012500,"nranks":2,)"
      R"("time_unix":1763793855})");
  EXPECT_EQ(e.version, 3);
  EXPECT_EQ(e.step, 15);
  EXPECT_FALSE(e.base);
  EXPECT_EQ(e.base_version, 1);
  EXPECT_EQ(e.state_bytes, 35920u);
  EXPECT_EQ(e.written_bytes, 8192u);
  EXPECT_EQ(e.blocks, 8u);
  EXPECT_EQ(e.dirty_blocks, 2u);
  EXPECT_DOUBLE_EQ(e.seconds, 0.0125);
  EXPECT_EQ(e.nranks, 2);
  EXPECT_EQ(e.time_unix, 1763793855);
  EXPECT_DOUBLE_EQ(e.bandwidth(), 8192 / 0.0125);
}

TEST(ToolStatsFile, OptionalKeysAndSpaces) {
  const StatsEntry e = parse_stats_line(
      R"( { "version" : 1, "step": 0, "kind": "base", "state_bytes": 10, "written_bytes": 10,
            "blocks": 1, "dirty_blocks": 1, "seconds": 0 } )");
  EXPECT_TRUE(e.base);
  EXPECT_EQ(e.base_version, 1);
  EXPECT_EQ(e.nranks, 0);
  EXPECT_EQ(e.bandwidth(), 0.0);
}

TEST(ToolStatsFile, RejectsDamagedLines) {
  const std::string good = R"({"version":1,"step":1,"kind":"base","state_bytes":1,)"
                           R"("written_bytes":1,"blocks":1,"dirty_blocks":1,"seconds":0.1})";
  for (const std::string &bad :
       {std::string(R"({"version":7,"step":7,"kind":"del)"), std::string("{"), std::string(""),
        std::string("not json"), good.substr(0, good.size() - 1), good + "x",
        std::string(R"({"version":1,"step":1,"kind":"full","state_bytes":1,"written_bytes":1,)"
                    R"("blocks":1,"dirty_blocks":1,"seconds":0.1})"),
        std::string(R"({"version":1,"step":1,"kind":"base","state_bytes":-1,"written_bytes":1,)"
                    R"("blocks":1,"dirty_blocks":1,"seconds":0.1})"),
        std::string(R"({"version":"1","step":1,"kind":"base","state_bytes":1,)"
                    R"("written_bytes":1,"blocks":1,"dirty_blocks":1,"seconds":0.1})"),
        std::string(R"({"step":1,"kind":"base","state_bytes":1,"written_bytes":1,"blocks":1,)"
                    R"("dirty_blocks":1,"seconds":0.1})")})
    EXPECT_THROW(parse_stats_line(bad), std::invalid_argument) << bad;
  EXPECT_NO_THROW(parse_stats_line(good));
}

TEST(ToolStatsFile, ReadsAFileAndReportsBadLines) {
  char name[] = "stats-XXXXXX";
  const int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(name);
    out << R"({"version":1,"step":1,"kind":"base","state_bytes":1,"written_bytes":1,)"
           R"("blocks":1,"dirty_blocks":1,"seconds":0.1})"
        << "\n\n"
        << R"({"version":2,"step":2,"kind":"delta","base_version":1,"state_bytes":1,)"
           R"("written_bytes":0,"blocks":1,"dirty_blocks":0,"seconds":0.1})"
        << "\n"
        << R"({"version":3,"st)";
  }
  const StatsFile stats = read_stats_file(name);
  unlink(name);
  ASSERT_EQ(stats.entries.size(), 2u);
  EXPECT_EQ(stats.entries[1].version, 2);
  ASSERT_EQ(stats.problems.size(), 1u);
  EXPECT_EQ(stats.problems[0].line, 4u);
}

TEST(ToolOneLine, FoldsHdf5Stacks) {
  EXPECT_EQ(one_line("cannot open checkpoint file x.h5 (HDF5:\n    H5Fopen: unable to open file\n"
                     "    H5F_open: unable to read superblock\n"
                     "    H5F__super_read: truncated file: eof = 3000)"),
            "cannot open checkpoint file x.h5 (HDF5: H5Fopen: unable to open file; ...; "
            "H5F__super_read: truncated file: eof = 3000)");
  EXPECT_EQ(one_line("first line\n  second line\n"), "first line; second line");
  EXPECT_EQ(one_line("plain"), "plain");
  EXPECT_EQ(one_line("no space (HDF5:\n  H5Dwrite: write failed)"),
            "no space (HDF5: H5Dwrite: write failed)");
}

TEST(ToolArguments, Versions) {
  EXPECT_EQ(parse_version("7"), 7);
  EXPECT_EQ(parse_version("000012"), 12);
  for (const char *bad : {"0", "-1", "abc", "", "7x", "99999999999999999999"}) {
    try {
      parse_version(bad);
      ADD_FAILURE() << bad;
    } catch (const ToolError &e) {
      EXPECT_EQ(e.exit_status(), k_exit_usage);
    }
  }
}

TEST(ToolTextFormat, Table) {
  TextTable table({{"A", true}, {"NAME"}, {"NOTE"}});
  table.add_row({"1", "x", ""});
  table.add_row({"100", "longer", "note"});
  std::ostringstream out;
  table.print(out, "> ");
  EXPECT_EQ(out.str(), ">   A  NAME    NOTE\n"
                       ">   1  x\n"
                       "> 100  longer  note\n");
  EXPECT_THROW(table.add_row({"1"}), std::logic_error);
}

TEST(ToolTextFormat, Units) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(65536), "64.00 KiB");
  EXPECT_EQ(human_bytes(1.5 * 1024 * 1024 * 1024), "1.50 GiB");
  EXPECT_EQ(percent(1, 8), "12.5%");
  EXPECT_EQ(percent(1, 0), "-");
  EXPECT_EQ(hex16(0xabc), "0000000000000abc");
  EXPECT_EQ(utc_time(0), "");
  EXPECT_EQ(utc_time(1763793855), "2025-11-22T06:44:15Z");
}

TEST(ToolStatsSvg, EscapesXmlText) {
  EXPECT_EQ(xml_escape("a<b> & \"c\" 'd'"), "a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;");
  EXPECT_EQ(xml_escape(std::string("tab\tnl\nbell\x07")), "tab\tnl\nbell?");
}

TEST(ToolStatsSvg, NiceScales) {
  const auto expect_scale = [](double value, double max, double step) {
    const AxisScale s = nice_scale(value, 5);
    EXPECT_DOUBLE_EQ(s.max, max) << value;
    EXPECT_DOUBLE_EQ(s.step, step) << value;
  };
  expect_scale(32, 40, 10);
  expect_scale(0.27, 0.3, 0.1);
  expect_scale(1, 1, 0.2);
  expect_scale(100, 100, 20);
  expect_scale(4.5, 5, 1);
  expect_scale(0, 1, 0.2); // nothing to show: a unit axis
}

namespace {

StatsEntry checkpoint(std::int64_t version, std::int64_t step, bool base, std::uint64_t dirty) {
  StatsEntry e;
  e.version = version;
  e.step = step;
  e.base = base;
  e.base_version = base ? version : 1;
  e.blocks = 64;
  e.dirty_blocks = base ? 64 : dirty;
  e.state_bytes = 64 * 65536;
  e.written_bytes = e.dirty_blocks * 65536;
  e.seconds = base ? 0.2 : 0.01;
  return e;
}

std::size_t count(const std::string &text, const std::string &what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}

} // namespace

TEST(ToolStatsSvg, OneMarkPerCheckpoint) {
  // A base, two deltas, then a restart from version 2 (step 20) whose next
  // checkpoint is at step 30 again.
  const std::vector<StatsEntry> entries{checkpoint(1, 10, true, 0), checkpoint(2, 20, false, 3),
                                        checkpoint(3, 30, false, 5), checkpoint(4, 30, false, 6)};
  std::ostringstream out;
  write_stats_svg(out, entries, "run <1> & \"co\"");
  const std::string svg = out.str();
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "<g class=\"checkpoint\""), 4u);
  EXPECT_EQ(count(svg, "data-kind=\"base\""), 1u);
  EXPECT_EQ(count(svg, "data-kind=\"delta\""), 3u);
  EXPECT_EQ(count(svg, "class=\"written\""), 4u);
  EXPECT_EQ(count(svg, "class=\"dirty\""), 4u);
  EXPECT_EQ(count(svg, "class=\"time\""), 4u);
  EXPECT_NE(svg.find("run &lt;1&gt; &amp; &quot;co&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("run <1>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"restart\""), 1u);
  EXPECT_NE(svg.find("restart: step back to 30"), std::string::npos);
  EXPECT_NE(svg.find("deltas 4.7% to 9.4%"), std::string::npos);
  EXPECT_NE(svg.find("state size 4.00 MiB"), std::string::npos);
}

TEST(ToolStatsSvg, EmptyHistory) {
  std::ostringstream out;
  write_stats_svg(out, {}, "empty");
  EXPECT_EQ(count(out.str(), "class=\"checkpoint\""), 0u);
  EXPECT_NE(out.str().find("no checkpoint recorded yet"), std::string::npos);
  EXPECT_NE(out.str().find("</svg>"), std::string::npos);
}
