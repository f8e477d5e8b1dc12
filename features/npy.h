// NumPy's .npy format (version 1.0): what shards are made of, so that
// `numpy.load(path, mmap_mode='r')` reads them and workers mmap them.
#ifndef HPO_FEATURES_NPY_H_
#define HPO_FEATURES_NPY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hpo::features {

// The element types hpo writes, all little-endian.
enum class DType { kFloat16, kFloat32, kInt32, kInt64 };

// "<f2", "<f4", "<i4" or "<i8".
const char* NpyDescr(DType dtype);
// "float16", "float32", "int32" or "int64", the names manifests use.
const char* DTypeName(DType dtype);
// Parses DTypeName's output; false for anything else.
bool ParseDTypeName(const std::string& name, DType* dtype);
size_t DTypeSize(DType dtype);

// The product of the dimensions (1 for a scalar's empty shape).
int64_t ShapeElements(const std::vector<int64_t>& shape);

// The header of an .npy file: magic, version 1.0, length and the dict, padded
// with spaces and a newline so the data starts at a multiple of 64 bytes.
std::string NpyHeader(DType dtype, const std::vector<int64_t>& shape);

// Writes an array (C order) to `path` through a temporary file renamed into
// place, so a crash never leaves a partial file under the final name. Returns
// the CRC-32C of the whole file. Throws hpo::Error (runtime) naming the file
// when it cannot be written.
uint32_t WriteNpy(const std::string& path, DType dtype,
                  const std::vector<int64_t>& shape, const void* data);

// A read-only memory map of a whole file. Move-only.
class MappedFile {
 public:
  // Throws hpo::Error (bad input) naming the file when it cannot be opened
  // or mapped.
  static MappedFile Open(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// An .npy file mapped into memory without copying. Thread safe to read.
class NpyArray {
 public:
  // Maps `path` and checks it: the magic and version, a header this reader
  // understands (one of DType's descrs, C order), and a file size that holds
  // exactly the data of the shape. Throws hpo::Error (bad input) naming the
  // file and what is wrong ("truncated: 1000 bytes of data, the shape needs
  // 65536") otherwise.
  static NpyArray Open(const std::string& path);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t elements() const { return ShapeElements(shape_); }
  // The first element; data_bytes() bytes follow.
  const void* data() const { return file_.data() + offset_; }
  size_t data_bytes() const { return file_.size() - offset_; }
  const MappedFile& file() const { return file_; }

  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data());
  }

 private:
  MappedFile file_;
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  size_t offset_ = 0;
};

}  // namespace hpo::features

#endif  // HPO_FEATURES_NPY_H_
