// Attaches an epoll fd to Node's own event loop: a uv_poll_t on the loop of the calling environment
// (napi_get_uv_event_loop), so it works in worker threads, with no helper thread and no thread hop.
// The epoll fd is level-triggered readable while any event is pending, so libuv calls JS once per
// readiness and JS drains with epollWait(epfd, events, 0).
// An environment that ends with watches still open closes them in an async cleanup hook, which Node
// waits for until uv_close has finished, so a worker that exits without closing neither leaks nor crashes.
// The fds a loop owns (its epoll fd, listeners, connections) are raw fds Node knows nothing about: they
// are declared with ownFd and closed by an environment cleanup hook, registered before any watch, so that
// it runs after the watches have stopped (Node runs cleanup hooks in reverse order of registration).
#include <unistd.h>
#include <uv.h>

#include "common.h"

namespace epollkit {

struct WatchHandle {
  uv_poll_t poll;
  napi_env env;
  uint32_t id;
  Napi::FunctionReference callback;
  napi_async_cleanup_hook_handle hook = nullptr;
  napi_async_context context = nullptr;
  bool closing = false;
};

namespace {

void OnClosed(uv_handle_t* h) {
  WatchHandle* w = static_cast<WatchHandle*>(h->data);
  napi_async_cleanup_hook_handle hook = w->hook;
  if (w->context) napi_async_destroy(w->env, w->context);
  delete w;
  // Last: removing the hook may let Node finish tearing down the environment.
  if (hook) napi_remove_async_cleanup_hook(hook);
}

void StartClose(WatchHandle* w) {
  if (w->closing) return;
  w->closing = true;
  AddonData* data = Napi::Env(w->env).GetInstanceData<AddonData>();
  if (data) data->watches.erase(w->id);
  w->callback.Reset();
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnClosed);
}

void OnEnvironmentCleanup(napi_async_cleanup_hook_handle, void* arg) { StartClose(static_cast<WatchHandle*>(arg)); }

void OnReadable(uv_poll_t* handle, int status, int events) {
  WatchHandle* w = static_cast<WatchHandle*>(handle->data);
  if (w->closing) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  napi_value recv, result;
  napi_get_global(w->env, &recv);  // napi_make_callback needs an object receiver
  napi_value arg = Napi::Number::New(env, status < 0 ? status : events);
  // napi_make_callback runs microtasks afterwards, as Node does for its own I/O callbacks.
  napi_status s = napi_make_callback(w->env, w->context, recv, w->callback.Value(), 1, &arg, &result);
  bool pending = false;
  napi_is_exception_pending(w->env, &pending);
  if (s != napi_ok && pending) {
    napi_value error;
    napi_get_and_clear_last_exception(w->env, &error);
    napi_fatal_exception(w->env, error);  // an 'uncaughtException', like any throwing I/O callback
  }
}

WatchHandle* Lookup(const Napi::CallbackInfo& info) {
  int32_t id;
  if (!ArgInt(info, 0, "id", &id)) return nullptr;
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  auto it = data->watches.find(static_cast<uint32_t>(id));
  if (it == data->watches.end()) {
    ThrowMisuse(info.Env(), "ERR_EPOLLKIT_WATCH_CLOSED", "this watch is closed");
    return nullptr;
  }
  return it->second;
}

// watchStart(fd, callback) -> id. callback(events) runs on this environment's loop whenever fd is readable.
Napi::Value WatchStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return env.Undefined();
  if (!info[1].IsFunction()) return ThrowType(env, "The \"callback\" argument must be of type function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    return ThrowMisuse(env, "ERR_EPOLLKIT_NO_LOOP", "this environment has no libuv loop");
  }
  auto* w = new WatchHandle();
  w->env = env;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    delete w;
    return ThrowErrno(env, -rc, "uv_poll_init", fd);
  }
  w->poll.data = w;
  AddonData* data = env.GetInstanceData<AddonData>();
  w->id = data->nextWatchId++;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  napi_async_init(env, nullptr, Napi::String::New(env, "epollkit.watch"), &w->context);
  napi_add_async_cleanup_hook(env, OnEnvironmentCleanup, w, &w->hook);
  data->watches[w->id] = w;
  rc = uv_poll_start(&w->poll, UV_READABLE, OnReadable);
  if (rc < 0) {
    StartClose(w);
    return ThrowErrno(env, -rc, "uv_poll_start", fd);
  }
  return Napi::Number::New(env, w->id);
}

Napi::Value WatchClose(const Napi::CallbackInfo& info) {
  if (WatchHandle* w = Lookup(info)) StartClose(w);
  return info.Env().Undefined();
}

// watchRef(id, ref): an unref'd watch does not keep the process alive, like timer.unref().
Napi::Value WatchRef(const Napi::CallbackInfo& info) {
  if (WatchHandle* w = Lookup(info)) {
    if (info[1].ToBoolean().Value()) uv_ref(reinterpret_cast<uv_handle_t*>(&w->poll));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&w->poll));
  }
  return info.Env().Undefined();
}

void CloseOwnedFds(void* arg) {
  auto* fds = static_cast<std::set<int>*>(arg);
  for (int fd : *fds) close(fd);
  delete fds;
}

// ownFd(fd, owned = true): while owned, fd is closed if this environment (a worker) ends first.
Napi::Value OwnFd(const Napi::CallbackInfo& info) {
  int32_t fd;
  if (!ArgFd(info, 0, "fd", &fd)) return info.Env().Undefined();
  std::set<int>* fds = info.Env().GetInstanceData<AddonData>()->ownedFds;
  if (info[1].IsUndefined() || info[1].ToBoolean().Value()) fds->insert(fd);
  else fds->erase(fd);
  return info.Env().Undefined();
}

}  // namespace

void InitWatch(Napi::Env env, Napi::Object exports) {
  AddonData* data = env.GetInstanceData<AddonData>();
  data->ownedFds = new std::set<int>();
  napi_add_env_cleanup_hook(env, CloseOwnedFds, data->ownedFds);
  EPK_FN(exports, "ownFd", OwnFd);
  EPK_FN(exports, "watchStart", WatchStart);
  EPK_FN(exports, "watchClose", WatchClose);
  EPK_FN(exports, "watchRef", WatchRef);
}

}  // namespace epollkit
