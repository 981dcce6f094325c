// Module init: each facility registers its functions and constants, and nothing else happens here.
#include "common.h"

namespace epollkit {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  InitErrors(env, exports);
  InitCounters(env, exports);
  InitEpoll(env, exports);
  InitPoll(env, exports);
  InitSelect(env, exports);
  InitSocket(env, exports);
  InitProcess(env, exports);
  InitWatch(env, exports);
  return exports;
}

}  // namespace epollkit

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return epollkit::Init(env, exports); }

NODE_API_MODULE(epollkit, InitAll)
