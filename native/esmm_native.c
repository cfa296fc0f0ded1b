/*
 * The native backend's addon: the three row-major gemm shapes of src/engine/kernels.ts on OpenBLAS
 * cblas_sgemm, and info() about the OpenBLAS it runs on.
 *
 * The TypeScript side (src/engine/native.ts) checks shapes and buffer ownership first; the checks here
 * repeat only what keeps a bad call from writing outside its arrays.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <node_api.h>

/* Which product: C = A·B, C = Aᵀ·B or C = A·Bᵀ (the interface's gemm, gemmTN, gemmNT). */
enum shape { NN, TN, NT };

#define CHECK(env, call)                                          \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      napi_throw_error((env), NULL, "esmm_native: " #call " failed"); \
      return NULL;                                                \
    }                                                             \
  } while (0)

static bool get_dim(napi_env env, napi_value value, const char *what, int *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= INT32_MAX) || d != (double)(int)d) {
    napi_throw_range_error(env, NULL, what);
    return false;
  }
  *out = (int)d;
  return true;
}

/* The data of a Float32Array with at least `needed` elements (works for views of SharedArrayBuffers). */
static float *get_f32(napi_env env, napi_value value, int64_t needed, const char *what) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  if ((int64_t)length < needed) {
    napi_throw_range_error(env, NULL, what);
    return NULL;
  }
  /* A zero-length view may have no data pointer; BLAS still wants a non-null one. */
  static float dummy;
  return data != NULL ? (float *)data : &dummy;
}

/* gemm*(m, n, k, a, b, c, accumulate) with the interface's meaning of m, n, k for each shape. */
static napi_value run_gemm(napi_env env, napi_callback_info info, enum shape shape) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, NULL, "esmm_native: gemm takes (m, n, k, a, b, c, accumulate)");
    return NULL;
  }
  int m, n, k;
  if (!get_dim(env, argv[0], "esmm_native: m is not a non-negative int32", &m)) return NULL;
  if (!get_dim(env, argv[1], "esmm_native: n is not a non-negative int32", &n)) return NULL;
  if (!get_dim(env, argv[2], "esmm_native: k is not a non-negative int32", &k)) return NULL;
  bool accumulate;
  CHECK(env, napi_get_value_bool(env, argv[6], &accumulate));

  /* In BLAS terms: C(rows×cols) = op(A)·op(B) with an inner dimension `inner`. */
  int rows, cols, inner;
  int64_t a_size, b_size;
  switch (shape) {
    case NN: rows = m; cols = n; inner = k; a_size = (int64_t)m * k; b_size = (int64_t)k * n; break;
    case TN: rows = k; cols = n; inner = m; a_size = (int64_t)m * k; b_size = (int64_t)m * n; break;
    default: rows = m; cols = k; inner = n; a_size = (int64_t)m * n; b_size = (int64_t)k * n; break;
  }
  float *a = get_f32(env, argv[3], a_size, "esmm_native: a is not a Float32Array of the needed length");
  if (a == NULL) return NULL;
  float *b = get_f32(env, argv[4], b_size, "esmm_native: b is not a Float32Array of the needed length");
  if (b == NULL) return NULL;
  float *c = get_f32(env, argv[5], (int64_t)rows * cols, "esmm_native: c is not a Float32Array of the needed length");
  if (c == NULL) return NULL;

  if (rows == 0 || cols == 0) return NULL;
  if (inner == 0) {
    /* An empty sum; BLAS would reject the zero leading dimension instead. */
    if (!accumulate) memset(c, 0, sizeof(float) * (size_t)rows * (size_t)cols);
    return NULL;
  }
  const float beta = accumulate ? 1.0f : 0.0f;
  switch (shape) {
    case NN:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, cols, inner, 1.0f, a, k, b, n, beta, c, n);
      break;
    case TN:
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols, inner, 1.0f, a, k, b, n, beta, c, n);
      break;
    default:
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, inner, 1.0f, a, n, b, n, beta, c, k);
      break;
  }
  return NULL;
}

static napi_value gemm(napi_env env, napi_callback_info info) { return run_gemm(env, info, NN); }
static napi_value gemm_tn(napi_env env, napi_callback_info info) { return run_gemm(env, info, TN); }
static napi_value gemm_nt(napi_env env, napi_callback_info info) { return run_gemm(env, info, NT); }

/* { openblasConfig, threads }: the OpenBLAS build string and its thread count for a call. */
static napi_value get_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, config, threads;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(env, napi_set_named_property(env, result, "openblasConfig", config));
  CHECK(env, napi_set_named_property(env, result, "threads", threads));
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  /* Every engine thread calls gemm on its own share of the work; an OpenBLAS pool on top would oversubscribe. */
  openblas_set_num_threads(1);
  const napi_property_descriptor functions[] = {
    { "gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, NULL },
    { "gemmTN", NULL, gemm_tn, NULL, NULL, NULL, napi_enumerable, NULL },
    { "gemmNT", NULL, gemm_nt, NULL, NULL, NULL, napi_enumerable, NULL },
    { "info", NULL, get_info, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  CHECK(env, napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
  return exports;
}
