// Hot-path argument readers: one N-API call per argument actually passed, no napi_typeof for absent ones.
// They accept exactly what the validators in errors.cc accept; on anything else they return false and the
// caller reruns the node-addon-api function, whose validators throw the usual TypeError/RangeError.
#pragma once
#include <node_api.h>
#include <stdint.h>
#include <math.h>

namespace epollkit {

inline bool FastInt(napi_env env, napi_value v, int32_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  *out = static_cast<int32_t>(d);
  return true;
}

// An absent or undefined argument takes `fallback`.
inline bool FastIntOr(napi_env env, size_t argc, const napi_value* argv, size_t i, int32_t fallback, int32_t* out) {
  if (i >= argc) {
    *out = fallback;
    return true;
  }
  if (FastInt(env, argv[i], out)) return true;
  napi_valuetype t;
  if (napi_typeof(env, argv[i], &t) == napi_ok && t == napi_undefined) {
    *out = fallback;
    return true;
  }
  return false;
}

inline size_t ElementBytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: return 8;
    default: return 4;
  }
}

// (buffer, offset?, length?) at argv[i..i+2], as ArgBytes reads them.
inline bool FastBytes(napi_env env, size_t argc, const napi_value* argv, size_t i, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  size_t count;
  void* base;
  if (i >= argc || napi_get_typedarray_info(env, argv[i], &type, &count, &base, nullptr, nullptr) != napi_ok) {
    return false;
  }
  double total = static_cast<double>(count * ElementBytes(type));
  double offset = 0, length = -1;
  bool has_length = false;
  napi_valuetype t;
  if (i + 1 < argc && napi_get_value_double(env, argv[i + 1], &offset) != napi_ok) {
    if (napi_typeof(env, argv[i + 1], &t) != napi_ok || t != napi_undefined) return false;
    offset = 0;
  }
  if (i + 2 < argc) {
    if (napi_get_value_double(env, argv[i + 2], &length) == napi_ok) {
      has_length = true;
    } else if (napi_typeof(env, argv[i + 2], &t) != napi_ok || t != napi_undefined) {
      return false;
    }
  }
  if (!has_length) length = total - offset;
  if (!(offset >= 0 && offset <= total) || !(length >= 0) || offset + length > total || offset != floor(offset) ||
      length != floor(length)) {
    return false;
  }
  *data = static_cast<uint8_t*>(base) + static_cast<size_t>(offset);
  *len = static_cast<size_t>(length);
  return true;
}

// A whole typed array of `want` elements (napi_uint8_array also takes a Buffer): its base and length in
// elements.
inline bool FastArray(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* len) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, v, &type, len, data, nullptr, nullptr) == napi_ok && type == want;
}

inline napi_value FastNumber(napi_env env, double n) {
  napi_value r;
  napi_create_double(env, n, &r);
  return r;
}

// The arguments (at most N, their count in `argc`) and the data of a call to a NewBoundFunction function.
template <typename T, size_t N>
T* BoundCall(napi_env env, napi_callback_info cbinfo, size_t* argc, napi_value (&argv)[N]) {
  *argc = N;
  void* data = nullptr;
  napi_get_cb_info(env, cbinfo, argc, argv, nullptr, &data);
  return static_cast<T*>(data);
}

// A native function bound to typed arrays fixed at its creation, for a call made once per loop round: it
// gets `data` (raw pointers into the arrays, taken once) from napi_get_cb_info instead of reading every
// array argument again (napi_get_typedarray_info was most of such a call's cost). The function keeps the
// arrays alive as read-only properties (`names`), so their memory stays where `data` points; `data` is
// deleted with the function. Returns nullptr if N-API fails: `data` is deleted then, or, once the function
// exists, by its finalizer.
template <typename T>
napi_value NewBoundFunction(napi_env env, const char* name, napi_callback call, T* data, const char* const* names,
                            const napi_value* arrays, size_t count) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, call, data, &fn) != napi_ok) {
    delete data;
    return nullptr;
  }
  napi_finalize free_data = [](napi_env, void* d, void*) { delete static_cast<T*>(d); };
  if (napi_add_finalizer(env, fn, data, free_data, nullptr, nullptr) != napi_ok) {
    delete data;
    return nullptr;
  }
  for (size_t i = 0; i < count; i++) {
    napi_property_descriptor p = {names[i], nullptr, nullptr, nullptr, nullptr, arrays[i], napi_enumerable, nullptr};
    if (napi_define_properties(env, fn, 1, &p) != napi_ok) return nullptr;
  }
  return fn;
}

}  // namespace epollkit
