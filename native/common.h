// Helpers shared by every facility's Init: exporting functions and kernel constants under their own names.
#pragma once
#include <napi.h>

#include "counters.h"
#include "errors.h"

#define EPK_CONST(exports, name) (exports).Set(#name, Napi::Number::New((exports).Env(), static_cast<double>(name)))
#define EPK_FN(exports, jsname, fn) (exports).Set(jsname, Napi::Function::New((exports).Env(), fn, jsname))

#include <map>
#include <set>

namespace epollkit {

struct WatchHandle;

// Per-environment state (the main thread and each worker that loads the addon have their own).
struct AddonData {
  Napi::FunctionReference systemError;  // (message, code, errno, syscall) => SystemError, from lib/errors.ts
  Napi::FunctionReference misuseError;  // (message, code, kind) => EpollkitError
  std::map<uint32_t, WatchHandle*> watches;
  uint32_t nextWatchId = 1;
  // fds closed when the environment is torn down (see watch.cc); owned by the cleanup hook.
  std::set<int>* ownedFds = nullptr;
};

void InitEpoll(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitSelect(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);

// -errno as a JS number: the hot-path convention (EAGAIN is normal life, not an exception).
inline Napi::Value NegErrno(Napi::Env env, int err) {
  if (err == EAGAIN) Count(kEagain);
  return Napi::Number::New(env, -err);
}
}  // namespace epollkit
