// The one place errors are made. System errors are Node-shaped (code, negative errno, syscall, and
// fd/address/port where known, message like `listen EADDRINUSE: address already in use 127.0.0.1:7070`);
// misuse gets an ERR_EPOLLKIT_* code; a wrong argument is a TypeError with ERR_INVALID_ARG_TYPE.
#pragma once
#include <napi.h>
#include <string>

namespace epollkit {

struct ErrorExtra {
  int fd = -1;
  std::string address;  // empty when unknown
  int port = -1;        // -1 when unknown
  std::string path;     // AF_UNIX path, shown like an address
};

// Sets a pending JS exception for errno `err` raised by `syscall`. Always returns undefined so that
// callers can write `return ThrowErrno(...)`.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const ErrorExtra& extra = {});
// The same for an error about one fd (the `fd` property of the error).
inline Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, int fd) {
  ErrorExtra extra;
  extra.fd = fd;
  return ThrowErrno(env, err, syscall, extra);
}
// Misuse of the API (a closed handle, an fd beyond FD_SETSIZE, ...): Error (or RangeError) with `code`.
Napi::Value ThrowMisuse(Napi::Env env, const char* code, const std::string& message, bool range = false);
// A wrong argument type: TypeError with code ERR_INVALID_ARG_TYPE.
Napi::Value ThrowType(Napi::Env env, const std::string& message);
// An argument outside its range: RangeError with code ERR_OUT_OF_RANGE.
Napi::Value ThrowRange(Napi::Env env, const std::string& message);

// Registers JS error factories (lib/errors.ts) so native errors are instances of its classes.
void InitErrors(Napi::Env env, Napi::Object exports);

// Argument readers: each validates, sets a pending TypeError/RangeError on failure and returns false.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out);
bool ArgIntOr(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t fallback, int32_t* out);
bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t* out);
// A 32-bit flag mask given either signed or unsigned (EPOLLET is bit 31).
bool ArgMask(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t* out);
bool ArgDouble(const Napi::CallbackInfo& info, size_t i, const char* name, double* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out);
// Any ArrayBufferView (Buffer, Uint8Array, ...), whole: its bytes.
bool ArgView(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len);
// Any ArrayBufferView with optional (offset, length) at i+1, i+2, checked
// against the view's byte length.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len);
bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t** data, size_t* len);

}  // namespace epollkit
