// `ckpt stats --svg`: one SVG picture of a checkpoint directory's history,
// drawn from its stats file. Three panels share the checkpoint axis: bytes
// written against the state size, the dirty ratio, and the time each
// checkpoint took; bases and deltas have their own colour and are named
// directly in the picture. Every checkpoint is one element
// <g class="checkpoint" data-version=".." data-kind="base|delta"> holding its
// three bars and a <title> (a tooltip in browsers).
#ifndef CKPT_TOOL_STATS_SVG_HPP
#define CKPT_TOOL_STATS_SVG_HPP

#include "stats_file.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace ckpt::tool {

/// `text` with the five XML special characters replaced by entities and
/// control characters other than tab and newline (not allowed in XML 1.0)
/// replaced by '?'.
std::string xml_escape(const std::string &text);

/// A value axis from 0 to `max` with grid lines every `step`.
struct AxisScale {
  double max = 1;
  double step = 0.25;
};
/// The axis that holds `value` with at most `max_ticks` steps of 1, 2, 2.5 or
/// 5 times a power of ten: nice_scale(32, 5) is {40, 10}, (0.27, 5) {0.3, 0.1}.
AxisScale nice_scale(double value, int max_ticks);

/// Writes the picture of `entries` (in the order of the stats file) as a
/// standalone SVG document; `source` names the directory or file in the
/// title. An empty history gives a picture that says so.
void write_stats_svg(std::ostream &out, const std::vector<StatsEntry> &entries,
                     const std::string &source);

} // namespace ckpt::tool

#endif
