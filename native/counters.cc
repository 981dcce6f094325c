// Counters live in thread-local storage: a worker thread's loop has its own, like its own epoll fd.
#include "counters.h"

#include "errors.h"

#include <algorithm>

namespace epollkit {

thread_local Counters tl_counters;

namespace {

const char* const kNames[kCounterCount] = {
    "epollWait", "epollEvents", "epollCtl", "accept4", "recv", "recvBytes", "send", "sendBytes",
    "recvfrom", "sendto", "writev", "sendfile", "sendfileBytes", "poll", "select", "eagain"};

// countersRead(out: Float64Array) copies the values without allocating, so a lab can sample often.
Napi::Value CountersRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    return ThrowType(env, "The \"out\" argument must be a Float64Array");
  }
  Napi::Float64Array out = info[0].As<Napi::Float64Array>();
  size_t n = std::min<size_t>(out.ElementLength(), kCounterCount);
  for (size_t i = 0; i < n; i++) out[i] = tl_counters.values[i];
  return env.Undefined();
}

Napi::Value CountersReset(const Napi::CallbackInfo& info) {
  for (double& v : tl_counters.values) v = 0;
  return info.Env().Undefined();
}

Napi::Value CountersEnable(const Napi::CallbackInfo& info) {
  bool previous = tl_counters.enabled;
  if (!info[0].IsUndefined()) tl_counters.enabled = info[0].ToBoolean().Value();
  return Napi::Boolean::New(info.Env(), previous);
}

}  // namespace

void InitCounters(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env, kCounterCount);
  for (uint32_t i = 0; i < kCounterCount; i++) names.Set(i, Napi::String::New(env, kNames[i]));
  exports.Set("COUNTER_NAMES", names);
  exports.Set("countersRead", Napi::Function::New(env, CountersRead, "countersRead"));
  exports.Set("countersReset", Napi::Function::New(env, CountersReset, "countersReset"));
  exports.Set("countersEnable", Napi::Function::New(env, CountersEnable, "countersEnable"));
}

}  // namespace epollkit
