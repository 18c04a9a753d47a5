/*
 * trim(): glibc's malloc_trim(0), for Node.
 *
 * Node allocates every socket read (up to 64 KiB) with malloc. After a burst of downloads those
 * chunks are freed, but glibc keeps the freed pages in the middle of its heap, so the process's
 * RSS stays at the burst's high-water mark. malloc_trim(0) hands those pages back to the kernel.
 * Node does not expose it; this addon does and nothing else.
 *
 * Returns true if memory was released. Where the C library has no malloc_trim (musl, macOS),
 * it does nothing and returns false.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
