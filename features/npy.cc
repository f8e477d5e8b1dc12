#include "features/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/error.h"
#include "features/crc32c.h"

namespace hpo::features {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

std::string Errno() { return std::strerror(errno); }

// Writes all of data[0, n) to fd; false on error (errno set).
bool WriteAll(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// A small parser for the header dict numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (128, 130), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path)
      : s_(text), path_(path) {}

  void Parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    Expect('{');
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      std::string key = ParseString();
      Expect(':');
      if (key == "descr") {
        *descr = ParseString();
        have_descr = true;
      } else if (key == "fortran_order") {
        SkipSpace();
        if (s_.compare(i_, 4, "True") == 0) {
          *fortran = true;
          i_ += 4;
        } else if (s_.compare(i_, 5, "False") == 0) {
          *fortran = false;
          i_ += 5;
        } else {
          Fail("fortran_order is neither True nor False");
        }
        have_order = true;
      } else if (key == "shape") {
        Expect('(');
        shape->clear();
        while (true) {
          SkipSpace();
          if (Consume(')')) break;
          size_t start = i_;
          while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
          if (start == i_) Fail("a dimension of the shape is not a number");
          shape->push_back(std::stoll(s_.substr(start, i_ - start)));
          SkipSpace();
          if (!Consume(',')) {
            Expect(')');
            break;
          }
        }
        have_shape = true;
      } else {
        Fail("unknown key '" + key + "'");
      }
      SkipSpace();
      if (!Consume(',')) {
        Expect('}');
        break;
      }
    }
    if (!have_descr || !have_order || !have_shape) {
      Fail("the header lacks descr, fortran_order or shape");
    }
  }

 private:
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n')) ++i_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void Expect(char c) {
    if (!Consume(c)) Fail(std::string("expected '") + c + "'");
  }
  std::string ParseString() {
    SkipSpace();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) {
      Fail("expected a quoted string");
    }
    char quote = s_[i_++];
    size_t end = s_.find(quote, i_);
    if (end == std::string::npos) Fail("unterminated string");
    std::string out = s_.substr(i_, end - i_);
    i_ = end + 1;
    return out;
  }
  [[noreturn]] void Fail(const std::string& what) {
    throw BadInput(path_ + ": not a valid .npy header: " + what +
                   " (rewrite the file with numpy.save or hpo-prep)");
  }

  const std::string& s_;
  const std::string& path_;
  size_t i_ = 0;
};

}  // namespace

const char* NpyDescr(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return "<f2";
    case DType::kFloat32:
      return "<f4";
    case DType::kInt32:
      return "<i4";
    case DType::kInt64:
      return "<i8";
  }
  return "?";
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return "float16";
    case DType::kFloat32:
      return "float32";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
  }
  return "?";
}

bool ParseDTypeName(const std::string& name, DType* dtype) {
  for (DType d :
       {DType::kFloat16, DType::kFloat32, DType::kInt32, DType::kInt64}) {
    if (name == DTypeName(d)) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return 2;
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
  }
  return 0;
}

int64_t ShapeElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string NpyHeader(DType dtype, const std::vector<int64_t>& shape) {
  std::string dict = std::string("{'descr': '") + NpyDescr(dtype) +
                     "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // Magic (6) + version (2) + length (2) + dict + padding + '\n'.
  size_t total = kMagicSize + 4 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  const size_t len = dict.size();
  header += static_cast<char>(len & 0xff);
  header += static_cast<char>((len >> 8) & 0xff);
  return header + dict;
}

uint32_t WriteNpy(const std::string& path, DType dtype,
                  const std::vector<int64_t>& shape, const void* data) {
  const std::string header = NpyHeader(dtype, shape);
  const size_t bytes =
      static_cast<size_t>(ShapeElements(shape)) * DTypeSize(dtype);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RuntimeFailure("cannot create " + tmp + ": " + Errno() +
                         " (check that the output directory is writable)");
  }
  bool ok = WriteAll(fd, header.data(), header.size()) &&
            WriteAll(fd, data, bytes) && ::fdatasync(fd) == 0;
  std::string error = ok ? "" : Errno();
  if (::close(fd) != 0 && ok) {
    ok = false;
    error = Errno();
  }
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = Errno();
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    throw RuntimeFailure("cannot write " + path + ": " + error +
                         " (is the disk full?)");
  }
  return Crc32c(data, bytes, Crc32c(header.data(), header.size()));
}

MappedFile MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw BadInput("cannot open " + path + ": " + Errno());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string e = Errno();
    ::close(fd);
    throw BadInput("cannot stat " + path + ": " + e);
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      std::string e = Errno();
      ::close(fd);
      throw BadInput("cannot map " + path + " into memory: " + e);
    }
    f.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
  *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

NpyArray NpyArray::Open(const std::string& path) {
  NpyArray a;
  a.file_ = MappedFile::Open(path);
  const uint8_t* p = a.file_.data();
  const size_t size = a.file_.size();
  auto fail = [&](const std::string& what) {
    return BadInput(path + ": " + what +
                    " (the file is corrupt or truncated: regenerate it, e.g. "
                    "rerun hpo-prep)");
  };
  if (size < kMagicSize + 4 || std::memcmp(p, kMagic, kMagicSize) != 0) {
    throw fail("not an .npy file (no \\x93NUMPY magic)");
  }
  const int major = p[6];
  size_t header_len, prefix;
  if (major == 1) {
    header_len = p[8] | (static_cast<size_t>(p[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw fail("truncated header");
    header_len = p[8] | (static_cast<size_t>(p[9]) << 8) |
                 (static_cast<size_t>(p[10]) << 16) |
                 (static_cast<size_t>(p[11]) << 24);
    prefix = 12;
  } else {
    throw fail("unsupported .npy version " + std::to_string(major));
  }
  if (prefix + header_len > size) throw fail("truncated header");
  std::string text(reinterpret_cast<const char*>(p + prefix), header_len);
  std::string descr;
  bool fortran = false;
  HeaderParser(text, path).Parse(&descr, &fortran, &a.shape_);
  bool known = false;
  for (DType d :
       {DType::kFloat16, DType::kFloat32, DType::kInt32, DType::kInt64}) {
    if (descr == NpyDescr(d)) {
      a.dtype_ = d;
      known = true;
    }
  }
  if (!known) {
    throw BadInput(path + ": dtype " + descr +
                   " is not one hpo reads (float16, float32, int32 or int64, "
                   "little-endian)");
  }
  if (fortran) {
    throw BadInput(path +
                   ": stored in Fortran order; save it in C order "
                   "(numpy.ascontiguousarray)");
  }
  a.offset_ = prefix + header_len;
  const size_t need = static_cast<size_t>(a.elements()) * DTypeSize(a.dtype_);
  const size_t have = size - a.offset_;
  if (have != need) {
    throw fail(std::string(have < need ? "truncated" : "too long") + ": " +
               std::to_string(have) + " bytes of data, the shape needs " +
               std::to_string(need));
  }
  return a;
}

}  // namespace hpo::features
