// errno -> Node-shaped error. Names and messages come from libuv (uv_err_name/uv_strerror), the same
// tables Node itself uses, so `err.code` and the message text match what net/fs users already know.
#include "errors.h"

#include "common.h"

#include <errno.h>
#include <string.h>
#include <uv.h>

#define EPK_ERRNO(name) errnos.Set(#name, Napi::Number::New(env, name))

namespace epollkit {
namespace {

AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

Napi::Value SetErrorFactories(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction() || !info[1].IsFunction()) return ThrowType(env, "factories must be functions");
  AddonData* d = Data(env);
  d->systemError = Napi::Persistent(info[0].As<Napi::Function>());
  d->misuseError = Napi::Persistent(info[1].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value ThrowWithCode(Napi::Env env, const char* kind, const char* code, const std::string& message) {
  AddonData* d = Data(env);
  Napi::Value err;
  if (d != nullptr && !d->misuseError.IsEmpty()) {
    err = d->misuseError.Call({Napi::String::New(env, message), Napi::String::New(env, code),
                               Napi::String::New(env, kind)});
    if (env.IsExceptionPending()) return env.Undefined();
  } else {
    Napi::Error e = kind[0] == 'T'   ? Napi::TypeError::New(env, message)
                    : kind[0] == 'R' ? Napi::RangeError::New(env, message)
                                     : Napi::Error::New(env, message);
    e.Set("code", Napi::String::New(env, code));
    err = e.Value();
  }
  napi_throw(env, err);
  return env.Undefined();
}

}  // namespace

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const ErrorExtra& extra) {
  const char* code = uv_err_name(-err);
  std::string description = uv_strerror(-err);
  // libuv's table lacks some errnos this addon can raise (ECHILD from waitpid): name them from libc.
  if (strncmp(code, "Unknown system error", 20) == 0) {
    const char* name = strerrorname_np(err);
    if (name != nullptr) {
      code = name;
      description = strerror(err);
    }
  }
  std::string message = std::string(syscall) + " " + code + ": " + description;
  if (!extra.path.empty()) {
    message += " " + extra.path;
  } else if (!extra.address.empty()) {
    message += " " + extra.address;
    if (extra.port >= 0) message += ":" + std::to_string(extra.port);
  }
  Napi::Object e;
  AddonData* d = Data(env);
  if (d != nullptr && !d->systemError.IsEmpty()) {
    Napi::Value v = d->systemError.Call({Napi::String::New(env, message), Napi::String::New(env, code),
                                         Napi::Number::New(env, -err), Napi::String::New(env, syscall)});
    if (env.IsExceptionPending()) return env.Undefined();
    e = v.As<Napi::Object>();
  } else {
    e = Napi::Error::New(env, message).Value();
    e.Set("code", code);
    e.Set("errno", -err);
    e.Set("syscall", syscall);
  }
  if (extra.fd >= 0) e.Set("fd", extra.fd);
  if (!extra.path.empty()) e.Set("address", extra.path);
  if (!extra.address.empty()) e.Set("address", extra.address);
  if (extra.port >= 0) e.Set("port", extra.port);
  napi_throw(env, e);
  return env.Undefined();
}

Napi::Value ThrowMisuse(Napi::Env env, const char* code, const std::string& message, bool range) {
  return ThrowWithCode(env, range ? "RangeError" : "Error", code, message);
}

Napi::Value ThrowType(Napi::Env env, const std::string& message) {
  return ThrowWithCode(env, "TypeError", "ERR_INVALID_ARG_TYPE", message);
}

Napi::Value ThrowRange(Napi::Env env, const std::string& message) {
  return ThrowWithCode(env, "RangeError", "ERR_OUT_OF_RANGE", message);
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorFactories", Napi::Function::New(env, SetErrorFactories, "setErrorFactories"));
  // The errno values the hot path returns negated, so callers compare `n === -EAGAIN`.
  Napi::Object errnos = Napi::Object::New(env);
  EPK_ERRNO(EAGAIN); EPK_ERRNO(EWOULDBLOCK); EPK_ERRNO(EINTR); EPK_ERRNO(EINPROGRESS); EPK_ERRNO(EALREADY);
  EPK_ERRNO(EISCONN); EPK_ERRNO(ENOTCONN); EPK_ERRNO(ECONNRESET); EPK_ERRNO(ECONNREFUSED);
  EPK_ERRNO(ECONNABORTED); EPK_ERRNO(EPIPE); EPK_ERRNO(ETIMEDOUT); EPK_ERRNO(EMFILE); EPK_ERRNO(ENFILE);
  EPK_ERRNO(ENOBUFS); EPK_ERRNO(ENOMEM); EPK_ERRNO(EBADF); EPK_ERRNO(EINVAL); EPK_ERRNO(EADDRINUSE);
  EPK_ERRNO(EADDRNOTAVAIL); EPK_ERRNO(ENOENT); EPK_ERRNO(ECHILD); EPK_ERRNO(ESRCH); EPK_ERRNO(EPERM);
  EPK_ERRNO(EACCES); EPK_ERRNO(EHOSTUNREACH); EPK_ERRNO(ENETUNREACH); EPK_ERRNO(EMSGSIZE); EPK_ERRNO(ENOTSOCK);
  EPK_ERRNO(EEXIST); EPK_ERRNO(EPROTO); EPK_ERRNO(EOPNOTSUPP);
  exports.Set("errno", errnos);
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    ThrowType(info.Env(), std::string("The \"") + name + "\" argument must be of type number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
    ThrowRange(info.Env(), std::string("The value of \"") + name + "\" must be a 32-bit integer");
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

bool ArgIntOr(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t fallback, int32_t* out) {
  if (info[i].IsUndefined()) {
    *out = fallback;
    return true;
  }
  return ArgInt(info, i, name, out);
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out) {
  if (!ArgInt(info, i, name, out)) return false;
  if (*out < 0) {
    ThrowRange(info.Env(), std::string("The value of \"") + name + "\" must be a file descriptor >= 0");
    return false;
  }
  return true;
}

bool ArgMask(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out) {
  double d;
  if (!ArgDouble(info, i, name, &d)) return false;
  if (!(d >= -2147483648.0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
    ThrowRange(info.Env(), std::string("The value of \"") + name + "\" must be a 32-bit mask");
    return false;
  }
  *out = static_cast<uint32_t>(static_cast<int64_t>(d));
  return true;
}

bool ArgDouble(const Napi::CallbackInfo& info, size_t i, const char* name, double* out) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    ThrowType(info.Env(), std::string("The \"") + name + "\" argument must be of type number");
    return false;
  }
  *out = v.As<Napi::Number>().DoubleValue();
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    ThrowType(info.Env(), std::string("The \"") + name + "\" argument must be of type string");
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool ArgView(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len) {
  napi_env env = info.Env();
  bool is_view = false;
  // napi_get_buffer_info accepts any ArrayBufferView in Node, and is the cheapest way in.
  if (napi_is_typedarray(env, info[i], &is_view) != napi_ok || !is_view) {
    ThrowType(info.Env(), std::string("The \"") + name + "\" argument must be a Buffer or Uint8Array");
    return false;
  }
  void* base = nullptr;
  napi_get_buffer_info(env, info[i], &base, len);
  *data = static_cast<uint8_t*>(base);
  return true;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len) {
  uint8_t* base = nullptr;
  size_t total = 0;
  if (!ArgView(info, i, name, &base, &total)) return false;
  double offset = 0, length = -1;
  if (!info[i + 1].IsUndefined() && !ArgDouble(info, i + 1, "offset", &offset)) return false;
  if (!info[i + 2].IsUndefined() && !ArgDouble(info, i + 2, "length", &length)) return false;
  if (length < 0 && info[i + 2].IsUndefined()) length = static_cast<double>(total) - offset;
  if (!(offset >= 0 && offset <= static_cast<double>(total)) || !(length >= 0) ||
      offset + length > static_cast<double>(total) || offset != static_cast<double>(static_cast<size_t>(offset)) ||
      length != static_cast<double>(static_cast<size_t>(length))) {
    ThrowRange(info.Env(), std::string("offset/length out of range for \"") + name + "\" of " +
                               std::to_string(total) + " bytes");
    return false;
  }
  *data = base + static_cast<size_t>(offset);
  *len = static_cast<size_t>(length);
  return true;
}

bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t** data, size_t* len) {
  napi_env env = info.Env();
  napi_value v = info[i];
  bool is_typed = false;
  napi_typedarray_type type;
  size_t count = 0;
  void* base = nullptr;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &count, &base, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array) {
    ThrowType(info.Env(), std::string("The \"") + name + "\" argument must be an Int32Array");
    return false;
  }
  *data = static_cast<int32_t*>(base);
  *len = count;
  return true;
}

}  // namespace epollkit
