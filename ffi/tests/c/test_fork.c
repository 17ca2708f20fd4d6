/* fork(): handles made before fork() fail in the child with
 * CORRAL_RESULT_FORKED (and freeing them there touches nothing of the
 * parent's); a new client made in the child works; the parent's client
 * keeps working. The child ends with _exit: the inherited handles are
 * leaked there by design, so LeakSanitizer's exit check is skipped in the
 * child only (the parent's run is checked as usual). */
#define _POSIX_C_SOURCE 200809L
#include <sys/types.h>
#include <sys/wait.h>

#include "check.h"

/* In the child: returns 0 when every expectation holds, else the line. */
static int child(corral_client *inherited, corral_mutex *inherited_mutex, const char *base) {
  corral_client *fresh = NULL;
  corral_lease *lease = NULL;
  bool exists = false;
  if (corral_client_exists(inherited, base, &exists, NULL) != CORRAL_RESULT_FORKED) {
    return __LINE__;
  }
  if (corral_mutex_try_acquire(inherited_mutex, 0, &lease) != CORRAL_RESULT_FORKED) {
    return __LINE__;
  }
  corral_mutex_free(inherited_mutex);
  corral_client_free(inherited);
  if (corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &fresh) != CORRAL_RESULT_OK) {
    return __LINE__;
  }
  if (corral_client_exists(fresh, base, &exists, NULL) != CORRAL_RESULT_OK || !exists) {
    return __LINE__;
  }
  if (corral_client_close(fresh) != CORRAL_RESULT_OK) {
    return __LINE__;
  }
  corral_client_free(fresh);
  return 0;
}

int main(void) {
  corral_client *client = NULL;
  corral_mutex *mutex = NULL;
  char base[128], lock[160];
  bool exists = false;
  int status = 0;
  pid_t pid;
  test_base(base, sizeof base, "fork");
  snprintf(lock, sizeof lock, "%s/lock", base);
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &client));
  CHECK_OK(corral_client_create(client, base, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL,
                                NULL));
  CHECK_OK(corral_mutex_new(client, lock, &mutex));
  fflush(stdout);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int failed_line = child(client, mutex, base);
    if (failed_line != 0) {
      fprintf(stderr, "test_fork child: expectation at line %d failed\n", failed_line);
    }
    _exit(failed_line == 0 ? 0 : 1);
  }
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* The parent's handles are untouched by the child. */
  CHECK_OK(corral_client_exists(client, base, &exists, NULL));
  CHECK(exists);
  {
    corral_lease *lease = NULL;
    CHECK_OK(corral_mutex_try_acquire(mutex, 0, &lease));
    CHECK_OK(corral_lease_release(lease, NULL));
    corral_lease_free(lease);
  }
  corral_mutex_free(mutex);
  CHECK_OK(corral_client_close(client));
  corral_client_free(client);
  printf("test_fork: %d checks passed (and the child's)\n", (int)checks_passed);
  return 0;
}
