/* corral_set_log_callback: the library's records reach the callback on
 * the corral-log thread, filtered by level; removing the callback stops
 * it for good. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "check.h"

struct logs {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  pthread_t main_thread;
  int records;
  int connected;
  int above_filter;
  int on_main_thread;
  int after_removal;
  int removed;
};

static void on_log(void *userdata, int32_t level, const char *target, const char *message) {
  struct logs *logs = userdata;
  pthread_mutex_lock(&logs->lock);
  logs->records++;
  logs->above_filter += level > CORRAL_LOG_LEVEL_INFO || level < CORRAL_LOG_LEVEL_ERROR;
  logs->connected += strncmp(target, "corral", 6) == 0 && strncmp(message, "connected", 9) == 0 &&
                     strstr(message, "session_id=") != NULL;
  logs->on_main_thread += pthread_equal(pthread_self(), logs->main_thread) != 0;
  logs->after_removal += logs->removed;
  pthread_cond_broadcast(&logs->changed);
  pthread_mutex_unlock(&logs->lock);
}

int main(void) {
  struct logs logs;
  struct timespec deadline;
  corral_client *client = NULL, *other = NULL;
  corral_watcher *w = NULL;
  corral_event event;
  char node[128];
  uint8_t *data = NULL;
  size_t len = 0;
  uint64_t watch = 0;

  memset(&logs, 0, sizeof logs);
  pthread_mutex_init(&logs.lock, NULL);
  pthread_cond_init(&logs.changed, NULL);
  logs.main_thread = pthread_self();
  test_base(node, sizeof node, "log");

  CHECK_RC(corral_set_log_callback(on_log, &logs, 9), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_OK(corral_set_log_callback(on_log, &logs, CORRAL_LOG_LEVEL_INFO));
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &client));
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &other));
  /* Debug records (a watch event) must not pass the INFO filter. */
  CHECK_OK(corral_client_create(other, node, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  CHECK_OK(corral_client_events(client, &w));
  CHECK_OK(corral_client_get_data_watch(client, node, &data, &len, NULL, &watch));
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_set_data(other, node, (const uint8_t *)"x", 1, -1, NULL));
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, 10000, &event));
    corral_event_clear(&event);
    if (event.kind == CORRAL_EVENT_KIND_WATCH) {
      break;
    }
  }

  /* The "connected" info record of each client arrives (bounded wait). */
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&logs.lock);
  while (logs.connected < 2 &&
         pthread_cond_timedwait(&logs.changed, &logs.lock, &deadline) == 0) {
  }
  CHECK(logs.connected >= 2);
  pthread_mutex_unlock(&logs.lock);

  /* Removing the callback waits for queued records; none come after. */
  CHECK_OK(corral_set_log_callback(NULL, NULL, CORRAL_LOG_LEVEL_OFF));
  pthread_mutex_lock(&logs.lock);
  logs.removed = 1;
  pthread_mutex_unlock(&logs.lock);
  corral_watcher_free(w);
  CHECK_OK(corral_client_close(client));
  CHECK_OK(corral_client_close(other));
  corral_client_free(client);
  corral_client_free(other);

  pthread_mutex_lock(&logs.lock);
  CHECK(logs.above_filter == 0 && logs.on_main_thread == 0 && logs.after_removal == 0);
  printf("test_log: %d records at or below info\n", logs.records);
  pthread_mutex_unlock(&logs.lock);
  pthread_cond_destroy(&logs.changed);
  pthread_mutex_destroy(&logs.lock);
  printf("test_log: %d checks passed\n", (int)checks_passed);
  return 0;
}
