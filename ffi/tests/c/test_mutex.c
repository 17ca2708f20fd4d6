/* The mutex recipe through the C ABI: 8 threads contending (4 sharing one
 * client, 4 with a client each) with an oracle (never two holders; fencing
 * tokens strictly increase in grant order); try-acquire with a timeout;
 * re-entry refused; a lease lost to a deleted node is reported as an event
 * and its release says "already lost"; a lease freed unreleased frees the
 * lock; a waiting acquire cancelled from another thread.
 *
 * Across processes, with a shared-file oracle:
 *   test_mutex process LOCK FILE ROUNDS   (run several at once) appends
 *     "enter PID TOKEN" and "exit PID TOKEN" lines around each critical
 *     section (O_APPEND: each line lands whole);
 *   test_mutex verify FILE GRANTS   checks the file: enter/exit pairs of
 *     one process never interleave, tokens strictly increase, GRANTS pairs. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 5

static pthread_mutex_t oracle_lock = PTHREAD_MUTEX_INITIALIZER;
static int holders;
static int64_t last_token;
static int grants;
static int oracle_failures;
static char lock_path[128];
static corral_client *shared_client;

static void *contend(void *arg) {
  long index = (long)arg;
  corral_client *own = NULL, *client = shared_client;
  corral_mutex *mutex = NULL;
  int round;
  if (index % 2 == 1) {
    CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &own));
    client = own;
  }
  CHECK_OK(corral_mutex_new(client, lock_path, &mutex));
  for (round = 0; round < ROUNDS; round++) {
    corral_lease *lease = NULL;
    int64_t token = 0;
    bool exists = false;
    bool lost = true;
    CHECK_OK(corral_mutex_acquire(mutex, &lease));
    CHECK_OK(corral_lease_fencing_token(lease, &token));
    pthread_mutex_lock(&oracle_lock);
    holders++;
    if (holders != 1 || token <= last_token) {
      oracle_failures++;
    }
    last_token = token;
    grants++;
    pthread_mutex_unlock(&oracle_lock);
    /* Work under the lock: a round trip to the server. */
    CHECK_OK(corral_client_exists(client, lock_path, &exists, NULL));
    CHECK(exists);
    pthread_mutex_lock(&oracle_lock);
    holders--;
    pthread_mutex_unlock(&oracle_lock);
    CHECK_OK(corral_lease_release(lease, &lost));
    CHECK(!lost);
    corral_lease_free(lease);
  }
  corral_mutex_free(mutex);
  if (own != NULL) {
    CHECK_OK(corral_client_close(own));
    corral_client_free(own);
  }
  return NULL;
}

static void test_contention(void) {
  pthread_t threads[THREADS];
  long i;
  for (i = 0; i < THREADS; i++) {
    CHECK(pthread_create(&threads[i], NULL, contend, (void *)i) == 0);
  }
  for (i = 0; i < THREADS; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
  }
  CHECK(oracle_failures == 0);
  CHECK(grants == THREADS * ROUNDS);
}

static void test_lease(const char *base) {
  corral_client *a = NULL, *b = NULL;
  corral_mutex *ma = NULL, *mb = NULL;
  corral_lease *held = NULL, *other = NULL, *again = NULL;
  corral_watcher *w = NULL;
  corral_event event;
  char path[128], *node = NULL;
  int64_t token = 0, next_token = 0;
  uint64_t watch = 0;
  bool lost = false;

  snprintf(path, sizeof path, "%s-lease", base);
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &a));
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &b));
  CHECK_RC(corral_mutex_new(a, "bad//path", &ma), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_mutex_new(NULL, path, &ma), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_mutex_acquire(NULL, &held), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_mutex_new(a, path, &ma));
  CHECK_OK(corral_mutex_new(b, path, &mb));
  CHECK_RC(corral_mutex_acquire(ma, NULL), CORRAL_RESULT_NULL_ARGUMENT);

  /* Free now: try_acquire with 0 gets it. */
  CHECK_OK(corral_mutex_try_acquire(ma, 0, &held));
  CHECK_OK(corral_lease_fencing_token(held, &token));
  CHECK(token > 0);
  CHECK_OK(corral_lease_path(held, &node));
  CHECK(strncmp(node, path, strlen(path)) == 0 && strstr(node, "lock-") != NULL);
  /* Held: the other client times out, leaving nothing behind; the same
   * handle may not re-enter. */
  CHECK_RC(corral_mutex_try_acquire(mb, 200, &other), CORRAL_RESULT_TIMED_OUT);
  CHECK(other == NULL);
  CHECK_RC(corral_mutex_try_acquire(ma, 0, &again), CORRAL_RESULT_BAD_ARGUMENTS);
  {
    char **children = NULL;
    size_t count = 0;
    CHECK_OK(corral_client_get_children(b, path, &children, &count, NULL));
    CHECK(count == 1);
    corral_strings_free(children, count);
  }

  /* Lost: b deletes the lock node; a is told, with the node's path. */
  CHECK_OK(corral_client_events(a, &w));
  CHECK_OK(corral_client_watch_lease(a, held, &watch));
  CHECK_OK(corral_client_delete(b, node, -1));
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, 10000, &event));
    if (event.kind == CORRAL_EVENT_KIND_LEASE_LOST) {
      break;
    }
    corral_event_clear(&event);
  }
  CHECK(event.watch == watch && strcmp(event.path, node) == 0 &&
        event.session_state == CORRAL_SESSION_STATE_CONNECTED);
  corral_event_clear(&event);
  CHECK_OK(corral_lease_release(held, &lost));
  CHECK(lost);
  CHECK_RC(corral_lease_release(held, &lost), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_watch_lease(a, held, &watch), CORRAL_RESULT_BAD_ARGUMENTS);
  corral_lease_free(held);
  corral_string_free(node);

  /* b gets it next, with a larger token; freeing its lease unreleased
   * releases it in the background, so a gets it again. */
  CHECK_OK(corral_mutex_try_acquire(mb, 10000, &other));
  CHECK_OK(corral_lease_fencing_token(other, &next_token));
  CHECK(next_token > token);
  corral_lease_free(other);
  CHECK_OK(corral_mutex_try_acquire(ma, 10000, &held));
  CHECK_OK(corral_lease_fencing_token(held, &token));
  CHECK(token > next_token);
  CHECK_OK(corral_lease_release(held, NULL));
  corral_lease_free(held);

  corral_watcher_free(w);
  corral_mutex_free(ma);
  corral_mutex_free(mb);
  CHECK_OK(corral_client_close(a));
  CHECK_OK(corral_client_close(b));
  corral_client_free(a);
  corral_client_free(b);
}

struct waiter {
  corral_mutex *mutex;
  corral_canceller *canceller;
  int32_t rc;
};

static void *wait_cancellable(void *arg) {
  struct waiter *waiter = arg;
  corral_lease *lease = NULL;
  waiter->rc = corral_mutex_acquire_cancellable(waiter->mutex, waiter->canceller, &lease);
  corral_lease_free(lease); /* NULL unless it was granted */
  return NULL;
}

/* A waiting acquire cancelled from another thread returns CANCELLED and
 * leaves no node in the queue (the next waiter gets the lock). */
static void test_cancel(const char *base) {
  corral_client *a = NULL, *b = NULL;
  corral_mutex *ma = NULL, *mb = NULL, *mc = NULL;
  corral_lease *held = NULL, *next = NULL;
  corral_canceller *canceller = NULL;
  struct waiter waiter;
  pthread_t thread;
  char path[160];
  char **children = NULL;
  size_t count = 0;
  int polls;

  snprintf(path, sizeof path, "%s-cancel", base);
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &a));
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &b));
  CHECK_OK(corral_mutex_new(a, path, &ma));
  CHECK_OK(corral_mutex_new(b, path, &mb));
  CHECK_OK(corral_mutex_new(b, path, &mc));
  CHECK_RC(corral_canceller_new(NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_canceller_cancel(NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_canceller_new(&canceller));
  CHECK_RC(corral_mutex_acquire_cancellable(mb, NULL, &next), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_mutex_acquire(ma, &held));

  waiter.mutex = mb;
  waiter.canceller = canceller;
  waiter.rc = 1;
  CHECK(pthread_create(&thread, NULL, wait_cancellable, &waiter) == 0);
  /* Poll (bounded) until the waiter's node is queued, then cancel. */
  for (polls = 0; polls < 1000; polls++) {
    CHECK_OK(corral_client_get_children(a, path, &children, &count, NULL));
    corral_strings_free(children, count);
    if (count == 2) {
      break;
    }
  }
  CHECK(count == 2);
  CHECK_OK(corral_canceller_cancel(canceller));
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(waiter.rc == CORRAL_RESULT_CANCELLED);
  /* Cancelled for good: a later call returns at once. */
  CHECK_RC(corral_mutex_acquire_cancellable(mb, canceller, &next), CORRAL_RESULT_CANCELLED);
  CHECK(next == NULL);

  CHECK_OK(corral_lease_release(held, NULL));
  corral_lease_free(held);
  CHECK_OK(corral_mutex_try_acquire(mc, 10000, &next));
  CHECK_OK(corral_lease_release(next, NULL));
  corral_lease_free(next);

  corral_canceller_free(canceller);
  corral_canceller_free(NULL);
  corral_mutex_free(ma);
  corral_mutex_free(mb);
  corral_mutex_free(mc);
  CHECK_OK(corral_client_close(a));
  CHECK_OK(corral_client_close(b));
  corral_client_free(a);
  corral_client_free(b);
}

static void append_line(const char *file, const char *what, int64_t token) {
  char line[128];
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
  int n = snprintf(line, sizeof line, "%s %ld %lld\n", what, (long)getpid(), (long long)token);
  CHECK(fd >= 0);
  CHECK(write(fd, line, (size_t)n) == n);
  CHECK(close(fd) == 0);
}

static int run_process(const char *path, const char *file, int rounds) {
  corral_client *client = NULL;
  corral_mutex *mutex = NULL;
  int round;
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &client));
  CHECK_OK(corral_mutex_new(client, path, &mutex));
  for (round = 0; round < rounds; round++) {
    corral_lease *lease = NULL;
    int64_t token = 0;
    bool exists = false;
    CHECK_OK(corral_mutex_acquire(mutex, &lease));
    CHECK_OK(corral_lease_fencing_token(lease, &token));
    append_line(file, "enter", token);
    CHECK_OK(corral_client_exists(client, path, &exists, NULL));
    append_line(file, "exit", token);
    CHECK_OK(corral_lease_release(lease, NULL));
    corral_lease_free(lease);
  }
  corral_mutex_free(mutex);
  CHECK_OK(corral_client_close(client));
  corral_client_free(client);
  printf("test_mutex process %ld: %d checks passed\n", (long)getpid(), (int)checks_passed);
  return 0;
}

static int verify(const char *file, int grants) {
  FILE *in = fopen(file, "r");
  char what[16], exit_what[16];
  long pid, exit_pid;
  long long token, exit_token, last = 0;
  int pairs = 0;
  CHECK(in != NULL);
  while (fscanf(in, "%15s %ld %lld", what, &pid, &token) == 3) {
    CHECK(strcmp(what, "enter") == 0);
    CHECK(fscanf(in, "%15s %ld %lld", exit_what, &exit_pid, &exit_token) == 3);
    CHECK(strcmp(exit_what, "exit") == 0 && exit_pid == pid && exit_token == token);
    CHECK(token > last);
    last = token;
    pairs++;
  }
  fclose(in);
  CHECK(pairs == grants);
  printf("test_mutex verify: %d grants, no overlap, tokens increasing\n", pairs);
  return 0;
}

int main(int argc, char **argv) {
  char base[128];
  if (argc == 5 && strcmp(argv[1], "process") == 0) {
    return run_process(argv[2], argv[3], atoi(argv[4]));
  }
  if (argc == 4 && strcmp(argv[1], "verify") == 0) {
    return verify(argv[2], atoi(argv[3]));
  }
  test_base(base, sizeof base, "mutex");
  snprintf(lock_path, sizeof lock_path, "%s", base);
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &shared_client));
  test_contention();
  test_lease(base);
  test_cancel(base);
  CHECK_OK(corral_client_close(shared_client));
  corral_client_free(shared_client);
  printf("test_mutex: %d checks passed\n", (int)checks_passed);
  return 0;
}
