/* Needs _POSIX_C_SOURCE (getpid, pthreads) defined before any include.
 * Shared helpers of the C tests: a failing check prints where, the result
 * code, its message and the thread's last error, and exits non-zero. */
#ifndef CORRAL_TEST_CHECK_H
#define CORRAL_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral.h"

/* Atomic: test_mutex checks from several threads. */
static _Atomic int checks_passed;

static void check_failed(const char *file, int line, const char *what, int32_t got,
                         int32_t want) {
  char message[512];
  char path[256];
  corral_last_error_message(message, sizeof message, NULL);
  corral_last_error_path(path, sizeof path, NULL);
  fprintf(stderr, "%s:%d: FAILED %s: got %d (%s), want %d (%s); last error: \"%s\" path \"%s\"\n",
          file, line, what, (int)got, corral_result_message(got), (int)want,
          corral_result_message(want), message, path);
  exit(1);
}

/* CHECK_RC(expr, want): expr returns a corral_result equal to want. */
#define CHECK_RC(expr, want)                                                   \
  do {                                                                         \
    int32_t check_got_ = (expr);                                               \
    if (check_got_ != (int32_t)(want)) {                                       \
      check_failed(__FILE__, __LINE__, #expr, check_got_, (int32_t)(want));    \
    }                                                                          \
    checks_passed++;                                                           \
  } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, CORRAL_RESULT_OK)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: FAILED %s\n", __FILE__, __LINE__, #cond);        \
      exit(1);                                                                 \
    }                                                                          \
    checks_passed++;                                                           \
  } while (0)

/* The server under test: CORRAL_TEST_HOSTS (set by scripts/test-c). */
static const char *test_hosts(void) {
  const char *hosts = getenv("CORRAL_TEST_HOSTS");
  if (hosts == NULL || hosts[0] == '\0') {
    fprintf(stderr, "CORRAL_TEST_HOSTS is not set (run scripts/test-c)\n");
    exit(2);
  }
  return hosts;
}

/* A fresh base path per run, so reruns against one server do not collide. */
static void test_base(char *buf, size_t len, const char *name) {
  snprintf(buf, len, "/c-%s-%ld", name, (long)getpid());
}

#endif
