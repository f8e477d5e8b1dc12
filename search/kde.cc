#include "search/kde.h"

#include <cmath>

namespace hpo {

ProductKde::ProductKde(std::vector<std::vector<double>> data,
                       std::vector<int> levels)
    : data_(std::move(data)),
      levels_(std::move(levels)),
      bandwidth_(NormalReference(data_)) {}

std::vector<double> ProductKde::NormalReference(
    const std::vector<std::vector<double>>& data) {
  if (data.empty()) return {};
  const size_t n = data.size();
  const size_t d = data[0].size();
  std::vector<double> bw(d);
  for (size_t j = 0; j < d; ++j) {
    double mean = 0;
    for (const auto& x : data) mean += x[j];
    mean /= static_cast<double>(n);
    double var = 0;
    for (const auto& x : data) var += (x[j] - mean) * (x[j] - mean);
    var /= static_cast<double>(n);
    bw[j] =
        1.06 * std::sqrt(var) *
        std::pow(static_cast<double>(n), -1.0 / (4.0 + static_cast<double>(d)));
  }
  return bw;
}

double ProductKde::Pdf(const std::vector<double>& x) const {
  constexpr double kInvSqrt2Pi = 0.3989422804014327;
  double total = 0;
  for (const auto& point : data_) {
    double k = 1;
    for (size_t j = 0; j < point.size(); ++j) {
      const double h = bandwidth_[j];
      if (levels_[j] > 0) {
        k *= x[j] == point[j] ? 1 - h : h / (levels_[j] - 1);
      } else {
        const double z = (x[j] - point[j]) / h;
        k *= kInvSqrt2Pi * std::exp(-0.5 * z * z) / h;
      }
    }
    total += k;
  }
  return data_.empty() ? 0 : total / static_cast<double>(data_.size());
}

}  // namespace hpo
