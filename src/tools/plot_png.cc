#include "tools/plot_png.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace strata::plot {
namespace {

std::string sizeLabel(double bytes) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:g}{}", bytes, units[u]);
}

// Distinct colours that stay apart for the colour-blind (Okabe-Ito).
const double kColours[][3] = {{0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
                              {0.80, 0.47, 0.65}, {0.34, 0.71, 0.91}, {0.84, 0.37, 0.00},
                              {0.94, 0.89, 0.26}, {0.0, 0.0, 0.0}};

}  // namespace

void writeLinePlotPng(const std::string& path, const std::string& title, const std::string& yLabel,
                      const std::vector<Series>& series) {
  const int width = 1000, height = 620;
  const double left = 80, right = 220, top = 50, bottom = 60;
  double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isnan(s.y[i]) || s.x[i] <= 0) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymax = std::max(ymax, s.y[i]);
    }
  STRATA_CHECK(xmin < INFINITY, strataInvalidArgument, "nothing to plot");
  if (xmax <= xmin) xmax = xmin * 2;
  // A round top: 1, 2 or 5 times a power of ten, five grid steps.
  {
    const double raw = (ymax <= 0 ? 1 : ymax * 1.05) / 5;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw <= mag ? mag : raw <= 2 * mag ? 2 * mag : raw <= 5 * mag ? 5 * mag : 10 * mag;
    ymax = step * 5;
  }
  const double lx0 = std::log2(xmin), lx1 = std::log2(xmax);
  auto px = [&](double x) { return left + (std::log2(x) - lx0) / (lx1 - lx0) * (width - left - right); };
  auto py = [&](double y) { return height - bottom - y / ymax * (height - top - bottom); };

  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  // Grid and axes: a tick per power of 4 of the size, 5 steps of the bandwidth.
  cairo_set_font_size(cr, 12);
  cairo_set_line_width(cr, 1);
  for (double lx = std::ceil(lx0 / 2) * 2; lx <= lx1 + 1e-9; lx += 2) {
    double x = px(std::exp2(lx));
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x, top);
    cairo_line_to(cr, x, height - bottom);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, x - 12, height - bottom + 18);
    cairo_show_text(cr, sizeLabel(std::exp2(lx)).c_str());
  }
  for (int k = 0; k <= 5; ++k) {
    double yv = ymax * k / 5, y = py(yv);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, left, y);
    cairo_line_to(cr, width - right, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, 10, y + 4);
    cairo_show_text(cr, fmt::format("{:g}", yv).c_str());
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_rectangle(cr, left, top, width - left - right, height - top - bottom);
  cairo_stroke(cr);
  cairo_move_to(cr, (width - right) / 2, height - 15);
  cairo_show_text(cr, "message size (bytes)");
  cairo_save(cr);
  cairo_move_to(cr, 25, (height) / 2 + 30);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, yLabel.c_str());
  cairo_restore(cr);
  cairo_set_font_size(cr, 15);
  cairo_move_to(cr, left, 30);
  cairo_show_text(cr, title.c_str());

  cairo_set_font_size(cr, 12);
  size_t drawn = 0;
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    if (std::all_of(s.y.begin(), s.y.end(), [](double y) { return std::isnan(y); })) continue;
    const size_t index = drawn++;
    const double* c = kColours[index % 8];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, 2);
    // Past eight series the colours repeat: dashes tell them apart.
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, index >= 8 ? 2 : 0, 0);
    bool pen = false;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (std::isnan(s.y[i])) {
        pen = false;
        continue;
      }
      if (pen) cairo_line_to(cr, px(s.x[i]), py(s.y[i]));
      else cairo_move_to(cr, px(s.x[i]), py(s.y[i]));
      pen = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    for (size_t i = 0; i < s.x.size(); ++i)
      if (!std::isnan(s.y[i])) {
        cairo_arc(cr, px(s.x[i]), py(s.y[i]), 2.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
    double ly = top + 20 + 22 * double(index);
    cairo_set_dash(cr, dash, index >= 8 ? 2 : 0, 0);
    cairo_set_line_width(cr, 3);
    cairo_move_to(cr, width - right + 12, ly - 6);
    cairo_line_to(cr, width - right + 36, ly - 6);
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, width - right + 42, ly - 2);
    cairo_show_text(cr, s.name.c_str());
  }
  cairo_destroy(cr);
  cairo_status_t st = cairo_surface_write_to_png(surface, path.c_str());
  cairo_surface_destroy(surface);
  STRATA_CHECK(st == CAIRO_STATUS_SUCCESS, strataSystemError, "cannot write {}: {}", path,
               cairo_status_to_string(st));
}

}  // namespace strata::plot
