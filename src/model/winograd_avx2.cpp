#include "model/winograd_avx2.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace coughkit::model {
namespace {

// One __m256 holds the 8 channels of an nChw8c block at one pixel.
using V8 = __m256;

inline V8 add(V8 a, V8 b) { return _mm256_add_ps(a, b); }
inline V8 sub(V8 a, V8 b) { return _mm256_sub_ps(a, b); }
inline V8 mul(float s, V8 a) { return _mm256_mul_ps(_mm256_set1_ps(s), a); }

// 1-D transforms along one axis: in[i * is], out[i * os]. The matrices are those of Lavin
// & Gray with their zeros and ones folded out.
template <int M>
struct Transforms;

template <>
struct Transforms<2> {  // points 0, 1, -1
  static constexpr int A = 4;
  static void bt(const V8* d, int is, V8* o, int os) {  // B^T d
    o[0] = sub(d[0], d[2 * is]);
    o[os] = add(d[is], d[2 * is]);
    o[2 * os] = sub(d[2 * is], d[is]);
    o[3 * os] = sub(d[is], d[3 * is]);
  }
  static void at(const V8* m, int is, V8* o, int os) {  // A^T m
    o[0] = add(add(m[0], m[is]), m[2 * is]);
    o[os] = sub(sub(m[is], m[2 * is]), m[3 * is]);
  }
};

template <>
struct Transforms<4> {  // points 0, 1, -1, 2, -2
  static constexpr int A = 6;
  static void bt(const V8* d, int is, V8* o, int os) {
    V8 d0 = d[0], d1 = d[is], d2 = d[2 * is], d3 = d[3 * is], d4 = d[4 * is], d5 = d[5 * is];
    o[0] = add(sub(mul(4, d0), mul(5, d2)), d4);
    o[os] = sub(add(d3, d4), mul(4, add(d1, d2)));
    o[2 * os] = add(sub(d4, d3), mul(4, sub(d1, d2)));
    o[3 * os] = add(sub(d4, d2), mul(2, sub(d3, d1)));
    o[4 * os] = add(sub(d4, d2), mul(2, sub(d1, d3)));
    o[5 * os] = add(sub(mul(4, d1), mul(5, d3)), d5);
  }
  static void at(const V8* m, int is, V8* o, int os) {
    V8 m0 = m[0], m1 = m[is], m2 = m[2 * is], m3 = m[3 * is], m4 = m[4 * is], m5 = m[5 * is];
    V8 s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4);
    o[0] = add(add(m0, s12), s34);
    o[os] = add(d12, mul(2, d34));
    o[2 * os] = add(s12, mul(4, s34));
    o[3 * os] = add(add(d12, mul(8, d34)), m5);
  }
};

// Per-thread scratch reused across calls (OpenMP keeps its threads), so steady-state runs
// do not fault in fresh pages.
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[2];
  return buffers[which];
}

template <int M>
void run_tiles(const WinogradProblem& p, const float* x, float* dst, int threads) {
  using T = Transforms<M>;
  constexpr int A = T::A;
  const std::int64_t th = (p.oh + M - 1) / M, tw = (p.ow + M - 1) / M, tiles = p.n * th * tw;
  const std::int64_t cbn = p.c / 8, kbn = p.k / 8;
  // Chunks of tiles: each chunk streams all transformed weights U through its GEMMs, so a
  // chunk's transformed input + output should be at least as large as U (and at least
  // L2-sized, 2 MB), and the chunk count a multiple of the thread count for balance.
  const std::int64_t tile_bytes = A * A * (p.c + p.k) * 4;
  const std::int64_t u_bytes = A * A * p.c * p.k * 4;
  std::int64_t chunk = std::clamp<std::int64_t>(std::max<std::int64_t>(2 << 20, u_bytes) / tile_bytes, 32, 512);
  std::int64_t chunks = (tiles + chunk - 1) / chunk;
  chunks = (chunks + threads - 1) / threads * threads;
  chunk = (tiles + chunks - 1) / chunks;
  chunks = (tiles + chunk - 1) / chunk;
  const V8 zero = _mm256_setzero_ps();

#pragma omp parallel num_threads(threads)
  {
    std::vector<float>& v = scratch(0);
    std::vector<float>& mo = scratch(1);
    v.resize(static_cast<std::size_t>(A * A * chunk * p.c));
    mo.resize(static_cast<std::size_t>(A * A * chunk * p.k));
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
      const std::int64_t t0 = ci * chunk, tn = std::min(chunk, tiles - t0);
      // 1. Input transform into V[xi][t][c].
      for (std::int64_t t = 0; t < tn; ++t) {
        std::int64_t tile = t0 + t, img = tile / (th * tw), rem = tile % (th * tw);
        std::int64_t y0 = (rem / tw) * M - p.pad_t, x0 = (rem % tw) * M - p.pad_l;
        bool inside = y0 >= 0 && x0 >= 0 && y0 + A <= p.h && x0 + A <= p.w;
        for (std::int64_t cb = 0; cb < cbn; ++cb) {
          const float* base = x + (img * cbn + cb) * p.h * p.w * 8;
          V8 d[A * A], tmp[A * A], out[A * A];
          for (int i = 0; i < A; ++i)
            for (int j = 0; j < A; ++j) {
              std::int64_t yy = y0 + i, xx = x0 + j;
              d[i * A + j] = inside || (yy >= 0 && yy < p.h && xx >= 0 && xx < p.w)
                                 ? _mm256_loadu_ps(base + (yy * p.w + xx) * 8)
                                 : zero;
            }
          for (int j = 0; j < A; ++j) T::bt(d + j, A, tmp + j, A);            // columns: B^T d
          for (int i = 0; i < A; ++i) T::bt(tmp + i * A, 1, out + i * A, 1);  // rows: (B^T d) B
          float* vt = v.data() + t * p.c + cb * 8;
          for (int xi = 0; xi < A * A; ++xi) _mm256_storeu_ps(vt + xi * chunk * p.c, out[xi]);
        }
      }
      // 2. One GEMM per transform point: (tn x C) * (C x K); single-threaded inside this region.
      for (int xi = 0; xi < A * A; ++xi)
        dnnl::sgemm('N', 'N', tn, p.k, p.c, 1.f, v.data() + xi * chunk * p.c, p.c, p.u + xi * p.c * p.k, p.k, 0.f,
                    mo.data() + xi * chunk * p.k, p.k);
      // 3. Output transform with bias, residual and ReLU.
      for (std::int64_t t = 0; t < tn; ++t) {
        std::int64_t tile = t0 + t, img = tile / (th * tw), rem = tile % (th * tw);
        std::int64_t y0 = (rem / tw) * M, x0 = (rem % tw) * M;
        for (std::int64_t kb = 0; kb < kbn; ++kb) {
          V8 m[A * A], tmp[M * A], y[M * M];
          const float* mt = mo.data() + t * p.k + kb * 8;
          for (int xi = 0; xi < A * A; ++xi) m[xi] = _mm256_loadu_ps(mt + xi * chunk * p.k);
          for (int j = 0; j < A; ++j) T::at(m + j, A, tmp + j, A);          // A^T m   (M x A)
          for (int i = 0; i < M; ++i) T::at(tmp + i * A, 1, y + i * M, 1);  // (A^T m) A (M x M)
          V8 b = _mm256_loadu_ps(p.bias + kb * 8);
          float* out = dst + (img * kbn + kb) * p.oh * p.ow * 8;
          for (int i = 0; i < M && y0 + i < p.oh; ++i)
            for (int j = 0; j < M && x0 + j < p.ow; ++j) {
              float* o = out + ((y0 + i) * p.ow + x0 + j) * 8;
              V8 r = add(y[i * M + j], b);
              if (p.sum) r = add(r, _mm256_loadu_ps(o));
              if (p.relu) r = _mm256_max_ps(r, zero);
              _mm256_storeu_ps(o, r);
            }
        }
      }
    }
  }
}

}  // namespace

void winograd_run_avx2(const WinogradProblem& p, const float* x, float* dst, int threads) {
  if (p.m == 2)
    run_tiles<2>(p, x, dst, threads);
  else
    run_tiles<4>(p, x, dst, threads);
}

}  // namespace coughkit::model
