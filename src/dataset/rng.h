#pragma once
// Deterministic random numbers for the dataset builder. Every random decision is drawn from
// an Rng derived from (--seed, a purpose tag, indices), never from a shared generator, so
// the output does not depend on thread scheduling (--jobs). The generator (xoshiro256**)
// and the distributions are written out here rather than taken from <random>, whose
// distributions are implementation-defined: the same seed gives the same corpus with any
// standard library.
#include <cmath>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace coughkit::dataset {

// 64-bit FNV-1a of a string followed by a splitmix64 finaliser.
inline std::uint64_t hash64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : s_) s = splitmix(x);
  }

  // A generator for one purpose: the same (seed, tag, a, b) always gives the same stream,
  // and different tags/indices give independent ones.
  static Rng derive(std::uint64_t seed, std::string_view tag, std::uint64_t a = 0, std::uint64_t b = 0) {
    std::uint64_t x = seed ^ hash64(tag);
    std::uint64_t k = splitmix(x);
    x = k ^ (a * 0x9e3779b97f4a7c15ULL);
    k = splitmix(x);
    x = k ^ (b * 0xc2b2ae3d27d4eb4fULL);
    return Rng(splitmix(x));
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // log-uniform in [lo, hi], lo > 0: every octave equally likely (skews toward lo).
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  bool chance(double p) { return uniform() < p; }
  // Uniform integer in [0, n), n >= 1 (Lemire's multiply-shift, unbiased enough for n << 2^64).
  std::size_t index(std::size_t n) {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform integer in [lo, hi].
  long long integer(long long lo, long long hi) {
    return lo + static_cast<long long>(index(static_cast<std::size_t>(hi - lo + 1)));
  }
  // Standard normal (Box-Muller, one value per call).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
  }
  // Fisher-Yates.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[index(i)]);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

}  // namespace coughkit::dataset
