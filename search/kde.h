// A product-kernel density estimate, as statsmodels' KDEMultivariate
// computes it with var_type 'c' (Gaussian kernel) and 'u' (Aitchison-Aitken
// kernel for unordered categories) and bw="normal_reference": what BOHB fits
// per budget to its good and its bad configurations.
//
//   pdf(x) = 1/n sum_i prod_j k_j(x_j, X_ij)
//   continuous:  k = phi((x - X) / h) / h
//   categorical: k = 1 - h if x == X, else h / (levels - 1)
//
// (statsmodels takes `levels` from the distinct values in the data; hpo uses
// the parameter's number of choices, which is what the kernel means.)
#ifndef HPO_SEARCH_KDE_H_
#define HPO_SEARCH_KDE_H_

#include <vector>

namespace hpo {

class ProductKde {
 public:
  // data[i][j]: point i's coordinate j (a category index where levels[j] >
  // 0). Bandwidths start at NormalReference(data).
  ProductKde(std::vector<std::vector<double>> data, std::vector<int> levels);

  // 1.06 * sd_j * n^(-1 / (4 + d)) per dimension, sd with ddof 0.
  static std::vector<double> NormalReference(
      const std::vector<std::vector<double>>& data);

  double Pdf(const std::vector<double>& x) const;

  const std::vector<std::vector<double>>& data() const { return data_; }
  const std::vector<int>& levels() const { return levels_; }
  const std::vector<double>& bandwidth() const { return bandwidth_; }
  void set_bandwidth(std::vector<double> bandwidth) {
    bandwidth_ = std::move(bandwidth);
  }

 private:
  std::vector<std::vector<double>> data_;
  std::vector<int> levels_;
  std::vector<double> bandwidth_;
};

}  // namespace hpo

#endif  // HPO_SEARCH_KDE_H_
