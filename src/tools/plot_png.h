// A line chart written as PNG with cairo: busbw against message size, one line per algorithm.
// Kept to what strata-plan needs: log2 x axis of sizes, linear y axis, legend, title.
#pragma once

#include <string>
#include <vector>

namespace strata::plot {

struct Series {
  std::string name;
  std::vector<double> x;  // bytes
  std::vector<double> y;  // GB/s; NaN: no point (the algorithm does not support that size)
};

// Throws strata::Error when the file cannot be written.
void writeLinePlotPng(const std::string& path, const std::string& title, const std::string& yLabel,
                      const std::vector<Series>& series);

}  // namespace strata::plot
