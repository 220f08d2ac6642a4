// Helpers shared by the tests.
#pragma once

#include <sys/wait.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tide/core/error.hpp"
#include "tide/core/rng.hpp"
#include "tide/tensor/tensor.hpp"

namespace tide::testing {

// The message of the tide::Error that f throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Fails the test unless `actual` is defined, has `expected`'s shape, and every element is
// within tol + tol * |expected| (the error names `what` and the element).
inline void expect_close(const Tensor& actual, const Tensor& expected, const std::string& what,
                         double tol = 1e-5) {
  ASSERT_TRUE(actual.defined()) << what << " is undefined";
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const auto a = actual.to_vector(), e = expected.to_vector();
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], e[i], tol + tol * std::abs(e[i])) << what << " element " << i;
}

// What a shell command line printed (stdout and stderr together) and its exit status (-1
// when a signal ended it).
struct CommandResult {
  int status;
  std::string out;
};

inline CommandResult run_command(const std::string& line) {
  const std::string cmd = line + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CommandResult r{-1, ""};
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// n floats uniform in [-1, 1).
inline std::vector<float> random_floats(int64_t n, RngStream& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(2 * rng.uniform() - 1);
  return v;
}

// Fails unless the two vectors have one length and agree elementwise within tol.
inline void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol,
                         const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << what << " element " << i;
}

// An IDX file of unsigned bytes: magic 0x000008NN, big-endian sizes, then `payload`.
inline std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b{0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// The whole of the file at `path`, byte for byte; empty when it cannot be read.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes `bytes` to `path` as they are.
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A .npy file (format 1.0) of `descr` elements ('<f4', '<i8', ...) and `shape`, as NumPy
// writes it; `data` holds the elements' bytes.
template <class T>
std::string npy_bytes(const std::string& descr, const std::vector<int64_t>& shape,
                      const std::vector<T>& data) {
  std::string dims;
  for (const int64_t d : shape) dims += std::to_string(d) + ", ";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  const auto n = static_cast<uint16_t>(header.size());
  out.append(reinterpret_cast<const char*>(&n), 2);
  out += header;
  out.append(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));
  return out;
}

// The cells of one CSV line without quoting, an empty cell wherever two commas meet or the
// line ends in one ("a,,": three cells).
inline std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  for (const char c : line) {
    if (c == ',')
      cells.emplace_back();
    else
      cells.back().push_back(c);
  }
  return cells;
}

}  // namespace tide::testing
