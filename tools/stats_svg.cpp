#include "stats_svg.hpp"

#include "text_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

namespace ckpt::tool {

std::string xml_escape(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default:
      if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n')
        out += '?';
      else
        out += ch;
    }
  }
  return out;
}

AxisScale nice_scale(double value, int max_ticks) {
  if (!(value > 0) || !std::isfinite(value)) return AxisScale{1.0, 1.0 / max_ticks};
  max_ticks = std::max(max_ticks, 1);
  const double first = std::floor(std::log10(value / max_ticks));
  for (int decade = 0;; ++decade)
    for (const double mantissa : {1.0, 2.0, 2.5, 5.0}) {
      const double step = mantissa * std::pow(10.0, first + decade);
      const double ticks = std::ceil(value / step * (1 - 1e-9));
      if (ticks <= max_ticks) return AxisScale{step * std::max(ticks, 1.0), step};
    }
}

namespace {

// Okabe-Ito colours: told apart also by colour-blind readers.
constexpr const char *base_colour = "#d55e00";  // vermillion
constexpr const char *delta_colour = "#0072b2"; // blue
constexpr const char *ink = "#222222";
constexpr const char *grid_colour = "#dddddd";

constexpr double width = 960;
constexpr double left = 96;   // room for the tick labels and axis titles
constexpr double right = 170; // room for the direct labels
constexpr double top = 112;   // title, subtitle and colour key
constexpr double panel_height = 140;
constexpr double panel_gap = 58; // panel title and x tick labels
constexpr double bottom = 56;
constexpr int panels = 3;
constexpr double height = top + panels * panel_height + (panels - 1) * panel_gap + bottom;
constexpr double plot_width = width - left - right;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

/// "0.25", "2", "2.5": a tick value without trailing zeros.
std::string tick_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

/// A value axis of one panel: maps [0, max] to the panel's height.
struct Panel {
  double y0;   // top of the plot area
  double max;  // value at the top
  double step; // between grid lines
  [[nodiscard]] double y(double value) const {
    const double clamped = std::clamp(value, 0.0, max);
    return y0 + panel_height - panel_height * clamped / max;
  }
  [[nodiscard]] double bottom_y() const { return y0 + panel_height; }
};

Panel panel(int index, AxisScale scale) {
  return Panel{top + index * (panel_height + panel_gap), scale.max, scale.step};
}

/// Binary unit for a byte axis whose top is `bytes`: divisor and name.
std::pair<double, const char *> byte_unit(double bytes) {
  const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double divisor = 1;
  int unit = 0;
  while (bytes / divisor >= 1024 && unit < 4) {
    divisor *= 1024;
    ++unit;
  }
  return {divisor, names[unit]};
}

class SvgWriter {
public:
  explicit SvgWriter(std::ostream &out) : m_out(out) {}

  void text(double x, double y, const std::string &content, const std::string &attributes = {}) {
    m_out << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\"";
    if (!attributes.empty()) m_out << ' ' << attributes;
    m_out << '>' << xml_escape(content) << "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string &attributes) {
    m_out << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2)
          << "\" y2=\"" << num(y2) << "\" " << attributes << "/>\n";
  }
  void rect(double x, double y, double w, double h, const std::string &attributes) {
    m_out << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w)
          << "\" height=\"" << num(h) << "\" " << attributes << "/>\n";
  }
  std::ostream &raw() { return m_out; }

private:
  std::ostream &m_out;
};

/// Panel frame: title above, horizontal grid lines with tick labels.
void draw_axes(SvgWriter &svg, const Panel &p, const std::string &title,
               const std::function<std::string(double)> &label) {
  svg.text(left, p.y0 - 12, title, "class=\"panel-title\" font-weight=\"bold\"");
  const int ticks = static_cast<int>(std::lround(p.max / p.step));
  for (int i = 0; i <= ticks; ++i) {
    const double value = p.step * i;
    const double y = p.y(value);
    svg.line(left, y, left + plot_width, y,
             std::string("stroke=\"") + (i == 0 ? ink : grid_colour) + "\" stroke-width=\"1\"");
    svg.text(left - 8, y + 4, label(value), "text-anchor=\"end\" class=\"tick\"");
  }
}

/// A label in the right margin of a panel, at the height of `value`.
struct MarginLabel {
  double value;
  std::string text;
  const char *colour;
};

/// Writes the labels at the heights of their values, pushed apart so that
/// they do not overlap.
void draw_margin_labels(SvgWriter &svg, const Panel &p, std::vector<MarginLabel> labels) {
  std::sort(labels.begin(), labels.end(),
            [](const MarginLabel &a, const MarginLabel &b) { return a.value > b.value; });
  constexpr double line_height = 14;
  double previous = p.y0 - 2 * line_height;
  for (const MarginLabel &label : labels) {
    const double y = std::max(p.y(label.value) + 4, previous + line_height);
    svg.text(left + plot_width + 8, y, label.text,
             std::string("class=\"direct-label\" fill=\"") + label.colour + "\"");
    previous = y;
  }
}

/// Smallest, largest and mean of `values` (all 0 when empty).
struct Range {
  double low = 0, high = 0, mean = 0;
};
Range range_of(const std::vector<double> &values) {
  Range r;
  if (values.empty()) return r;
  r.low = *std::min_element(values.begin(), values.end());
  r.high = *std::max_element(values.begin(), values.end());
  for (const double v : values)
    r.mean += v;
  r.mean /= double(values.size());
  return r;
}

std::string percent_text(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * share);
  return buf;
}

std::string kind_name(const StatsEntry &e) {
  return e.base ? "base" : "delta of base " + std::to_string(e.base_version);
}

double ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : double(part) / double(whole);
}

} // namespace

void write_stats_svg(std::ostream &out, const std::vector<StatsEntry> &entries,
                     const std::string &source) {
  SvgWriter svg(out);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\""
      << num(height) << "\" viewBox=\"0 0 " << num(width) << ' ' << num(height)
      << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" fill=\""
      << ink << "\">\n";
  svg.rect(0, 0, width, height, "fill=\"#ffffff\"");

  std::uint64_t written = 0, state = 0, dirty = 0, blocks = 0;
  double seconds = 0, max_state = 0, max_written = 0, max_seconds = 0;
  std::size_t bases = 0;
  for (const StatsEntry &e : entries) {
    written += e.written_bytes;
    state += e.state_bytes;
    dirty += e.dirty_blocks;
    blocks += e.blocks;
    seconds += e.seconds;
    max_state = std::max(max_state, double(e.state_bytes));
    max_written = std::max(max_written, double(e.written_bytes));
    max_seconds = std::max(max_seconds, e.seconds);
    bases += e.base ? 1 : 0;
  }

  svg.text(left, 28, "Checkpoint history of " + source,
           "class=\"title\" font-size=\"18\" font-weight=\"bold\"");
  if (entries.empty()) {
    svg.text(left, 56, "no checkpoint recorded yet", "class=\"subtitle\"");
    out << "</svg>\n";
    return;
  }
  svg.text(left, 50,
           std::to_string(entries.size()) + " checkpoint(s): " + std::to_string(bases) +
               " base(s), " + std::to_string(entries.size() - bases) + " delta(s); " +
               human_bytes(double(written)) + " written of " + human_bytes(double(state)) +
               " of state (" + percent(written, state) + "), dirty ratio " +
               percent(dirty, blocks) + ", " + seconds_text(seconds) + " in total",
           "class=\"subtitle\"");
  // The colour key, as words in the colours themselves.
  svg.text(left, 72, "base: a full checkpoint, every block written",
           std::string("class=\"key\" fill=\"") + base_colour + "\" font-weight=\"bold\"");
  svg.text(left + 330, 72, "delta: only the blocks that changed since the previous checkpoint",
           std::string("class=\"key\" fill=\"") + delta_colour + "\" font-weight=\"bold\"");

  const auto byte_units = byte_unit(std::max(max_state, max_written));
  const double divisor = byte_units.first;
  const auto unit = byte_units.second;
  AxisScale byte_scale = nice_scale(std::max(max_state, max_written) / divisor, 5);
  byte_scale.max *= divisor;
  byte_scale.step *= divisor;
  const Panel bytes = panel(0, byte_scale);
  const Panel dirt = panel(1, AxisScale{1.0, 0.25});
  const Panel time = panel(2, nice_scale(max_seconds, 5));
  const std::string unit_name = unit;
  draw_axes(svg, bytes,
            std::string("Bytes written per checkpoint (") + unit + "), against the state size",
            [&](double v) { return tick_text(v / divisor); });
  draw_axes(svg, dirt, "Dirty ratio (% of blocks written)",
            [](double v) { return tick_text(100 * v) + "%"; });
  draw_axes(svg, time, "Time per checkpoint, entry to commit (s)",
            [](double v) { return tick_text(v); });
  svg.text(24, bytes.y0 + panel_height / 2, unit_name,
           "class=\"axis-unit\" text-anchor=\"middle\" transform=\"rotate(-90 24 " +
               num(bytes.y0 + panel_height / 2) + ")\"");
  svg.text(24, dirt.y0 + panel_height / 2, "% of blocks",
           "class=\"axis-unit\" text-anchor=\"middle\" transform=\"rotate(-90 24 " +
               num(dirt.y0 + panel_height / 2) + ")\"");
  svg.text(24, time.y0 + panel_height / 2, "seconds",
           "class=\"axis-unit\" text-anchor=\"middle\" transform=\"rotate(-90 24 " +
               num(time.y0 + panel_height / 2) + ")\"");

  const double n = double(entries.size());
  const double slot = plot_width / n;
  const double bar = std::max(1.0, std::min(slot * 0.7, 36.0));
  const auto centre = [&](std::size_t i) { return left + slot * (double(i) + 0.5); };
  const auto bar_rect = [&](const Panel &p, std::size_t i, double value, const char *cls,
                            const char *colour) {
    const double y = std::min(p.y(value), p.bottom_y() - 1); // 1 px even for 0
    svg.rect(centre(i) - bar / 2, y, bar, p.bottom_y() - y,
             std::string("class=\"") + cls + "\" fill=\"" + colour + "\"");
  };

  // The state size: a dashed step line over the bytes panel, named at its end.
  std::ostringstream path;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double y = bytes.y(double(entries[i].state_bytes));
    path << (i == 0 ? "M" : " L") << num(left + slot * double(i)) << ' ' << num(y) << " L"
         << num(left + slot * double(i + 1)) << ' ' << num(y);
  }
  out << "<path class=\"state-size\" d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << ink
      << "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";

  // Restarts from an older checkpoint: the step goes back (or stays) between
  // two consecutive lines. (A restart from the newest checkpoint goes on with
  // larger steps and cannot be told from the stats file.)
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].step > entries[i - 1].step) continue;
    const double x = left + slot * double(i);
    svg.line(x, bytes.y0 - 4, x, time.bottom_y(),
             "class=\"restart\" stroke=\"" + std::string(ink) +
                 "\" stroke-width=\"1\" stroke-dasharray=\"2 3\"");
    svg.text(x + 3, bytes.y0 + 10, "restart: step back to " + std::to_string(entries[i].step),
             "class=\"direct-label\" font-size=\"11\"");
  }

  // One mark per checkpoint: its three bars and a tooltip.
  const bool room_for_values = slot >= 26;
  std::size_t first_base = entries.size(), first_delta = entries.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const StatsEntry &e = entries[i];
    const char *colour = e.base ? base_colour : delta_colour;
    const double dirty_ratio = ratio(e.dirty_blocks, e.blocks);
    if (e.base && first_base == entries.size()) first_base = i;
    if (!e.base && first_delta == entries.size()) first_delta = i;
    out << "<g class=\"checkpoint\" data-version=\"" << e.version << "\" data-step=\"" << e.step
        << "\" data-kind=\"" << (e.base ? "base" : "delta") << "\">\n";
    out << "<title>"
        << xml_escape("version " + std::to_string(e.version) + " (" + kind_name(e) + "), step " +
                      std::to_string(e.step) + ": " + human_bytes(double(e.written_bytes)) +
                      " written of " + human_bytes(double(e.state_bytes)) + ", " +
                      percent(e.dirty_blocks, e.blocks) + " of blocks dirty, " +
                      seconds_text(e.seconds))
        << "</title>\n";
    bar_rect(bytes, i, double(e.written_bytes), "written", colour);
    bar_rect(dirt, i, dirty_ratio, "dirty", colour);
    bar_rect(time, i, e.seconds, "time", colour);
    if (room_for_values)
      svg.text(centre(i), dirt.y(dirty_ratio) - 4, tick_text(100 * dirty_ratio) + "%",
               "class=\"value\" text-anchor=\"middle\" font-size=\"10\"");
    out << "</g>\n";
  }

  // What each panel says, in its right margin: state size, the range of the
  // deltas, the bases.
  std::vector<double> delta_bytes, delta_ratio, delta_seconds, base_seconds;
  for (const StatsEntry &e : entries) {
    (e.base ? base_seconds : delta_seconds).push_back(e.seconds);
    if (e.base) continue;
    delta_bytes.push_back(double(e.written_bytes));
    delta_ratio.push_back(ratio(e.dirty_blocks, e.blocks));
  }
  std::vector<MarginLabel> byte_labels{
      {double(entries.back().state_bytes),
       "state size " + human_bytes(double(entries.back().state_bytes)), ink}};
  std::vector<MarginLabel> ratio_labels;
  std::vector<MarginLabel> time_labels;
  if (!delta_bytes.empty()) {
    const Range b = range_of(delta_bytes);
    const Range r = range_of(delta_ratio);
    const Range t = range_of(delta_seconds);
    byte_labels.push_back({b.high, "largest delta " + human_bytes(b.high), delta_colour});
    ratio_labels.push_back(
        {r.high, "deltas " + percent_text(r.low) + " to " + percent_text(r.high), delta_colour});
    time_labels.push_back({t.mean, "delta mean " + seconds_text(t.mean), delta_colour});
  }
  if (!base_seconds.empty()) {
    ratio_labels.push_back({1.0, "bases 100%", base_colour});
    const Range t = range_of(base_seconds);
    time_labels.push_back({t.mean, "base mean " + seconds_text(t.mean), base_colour});
  }
  draw_margin_labels(svg, bytes, byte_labels);
  draw_margin_labels(svg, dirt, ratio_labels);
  draw_margin_labels(svg, time, time_labels);

  // Direct labels at the first base and the first delta of the bytes panel.
  const auto name_bar = [&](std::size_t i, const std::string &label, const char *colour,
                            double dy) {
    if (i >= entries.size()) return;
    const double y = bytes.y(double(entries[i].written_bytes));
    svg.text(centre(i) + bar / 2 + 4, std::min(y + dy, bytes.bottom_y() - 4), label,
             std::string("class=\"direct-label\" font-weight=\"bold\" fill=\"") + colour + "\"");
  };
  name_bar(first_base, "base", base_colour, 14);
  name_bar(first_delta, "delta", delta_colour, -4);

  // The shared x axis: checkpoint versions (and steps), thinned to fit.
  const std::size_t every = std::max<std::size_t>(1, std::size_t(std::ceil(n / 16)));
  for (const Panel *p : {&bytes, &dirt, &time})
    for (std::size_t i = 0; i < entries.size(); i += every)
      svg.text(centre(i), p->bottom_y() + 14, "v" + std::to_string(entries[i].version),
               "class=\"tick\" text-anchor=\"middle\" font-size=\"10\"");
  svg.text(left + plot_width / 2, time.bottom_y() + 36,
           "checkpoint version, in the order written (hover a bar for its step and figures)",
           "class=\"axis-title\" text-anchor=\"middle\"");
  out << "</svg>\n";
}

} // namespace ckpt::tool
