/* Watches and session events in both delivery forms: the pull queue
 * (corral_watcher_next) and the callback on the client's corral-events
 * thread. One-shot data watches, persistent and persistent-recursive
 * watches, removal, session states, and the queue's end after close.
 *
 * Absence of an event is never checked by waiting: a later marker event
 * that the server sends after the one that must not come proves it did
 * not (the server notifies a session in order, and the library keeps it). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "check.h"

#define WAIT_MS 10000

static corral_client *connect_pull(void) {
  corral_client *client = NULL;
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &client));
  return client;
}

/* The next event that is not a session event (session states may come at
 * any time, e.g. the initial CONNECTED). */
static corral_event next_node_event(corral_watcher *w) {
  corral_event event;
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, WAIT_MS, &event));
    if (event.kind != CORRAL_EVENT_KIND_SESSION) {
      return event;
    }
  }
}

static void expect_watch(corral_watcher *w, uint64_t watch, int32_t type, const char *path) {
  corral_event event = next_node_event(w);
  if (event.kind != CORRAL_EVENT_KIND_WATCH || event.watch != watch ||
      event.event_type != type || strcmp(event.path, path) != 0) {
    fprintf(stderr, "unexpected event: kind %d watch %llu type %d path %s; want watch %llu type %d path %s\n",
            (int)event.kind, (unsigned long long)event.watch, (int)event.event_type,
            event.path ? event.path : "(null)", (unsigned long long)watch, (int)type, path);
    exit(1);
  }
  CHECK(event.keeper_state == 3); /* SyncConnected */
  corral_event_clear(&event);
  CHECK(event.path == NULL);
  corral_event_clear(&event); /* twice is harmless */
}

static void test_pull(const char *base) {
  corral_client *a = connect_pull(), *b = connect_pull();
  corral_watcher *w = NULL;
  corral_event event;
  char node[256], marker[256], deep[256], sub[256];
  uint8_t *data = NULL;
  size_t len = 0;
  corral_stat stat;
  uint64_t once = 0, marker_watch = 0, tree = 0;

  CHECK_RC(corral_client_events(a, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_watcher_next(NULL, 0, &event), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_client_events(a, &w));
  CHECK_RC(corral_watcher_next(w, 0, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  /* The first event is the session's state: connected. */
  memset(&event, 0, sizeof event);
  CHECK_OK(corral_watcher_next(w, WAIT_MS, &event));
  CHECK(event.kind == CORRAL_EVENT_KIND_SESSION && event.session_state == CORRAL_SESSION_STATE_CONNECTED);
  CHECK(event.path == NULL && event.watch == 0);
  /* Nothing queued now: TIMED_OUT, event untouched. */
  event.kind = 42;
  CHECK_RC(corral_watcher_next(w, 0, &event), CORRAL_RESULT_TIMED_OUT);
  CHECK(event.kind == 42);

  CHECK_OK(corral_client_create(b, base, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  snprintf(node, sizeof node, "%s/config", base);
  snprintf(marker, sizeof marker, "%s/marker", base);
  CHECK_OK(corral_client_create(b, node, (const uint8_t *)"v1", 2, CORRAL_CREATE_MODE_PERSISTENT,
                                0, NULL, NULL));

  /* One-shot data watch: fires once on the change. */
  CHECK_RC(corral_client_get_data_watch(a, node, &data, &len, &stat, NULL),
           CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_client_get_data_watch(a, node, &data, &len, &stat, &once));
  CHECK(len == 2 && memcmp(data, "v1", 2) == 0 && stat.version == 0 && once != 0);
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_set_data(b, node, (const uint8_t *)"v2", 2, -1, NULL));
  expect_watch(w, once, CORRAL_EVENT_TYPE_NODE_DATA_CHANGED, node);
  /* Spent: a second change does not fire it; the marker's creation,
   * notified after it, comes first. */
  CHECK_OK(corral_client_add_watch(a, marker, CORRAL_ADD_WATCH_MODE_PERSISTENT, &marker_watch));
  CHECK_OK(corral_client_set_data(b, node, (const uint8_t *)"v3", 2, -1, NULL));
  CHECK_OK(corral_client_create(b, marker, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  expect_watch(w, marker_watch, CORRAL_EVENT_TYPE_NODE_CREATED, marker);
  /* Deletion fires a one-shot watch too. */
  CHECK_OK(corral_client_get_data_watch(a, node, &data, &len, NULL, &once));
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_delete(b, node, -1));
  expect_watch(w, once, CORRAL_EVENT_TYPE_NODE_DELETED, node);
  CHECK_RC(corral_client_get_data_watch(a, node, &data, &len, NULL, &once), CORRAL_RESULT_NO_NODE);

  /* Persistent recursive: every descendant, until removed. */
  CHECK_RC(corral_client_add_watch(a, base, 7, &tree), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_OK(corral_client_add_watch(a, base, CORRAL_ADD_WATCH_MODE_PERSISTENT_RECURSIVE, &tree));
  snprintf(sub, sizeof sub, "%s/sub", base);
  snprintf(deep, sizeof deep, "%s/sub/deep", base);
  CHECK_OK(corral_client_create(b, sub, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  expect_watch(w, tree, CORRAL_EVENT_TYPE_NODE_CREATED, sub);
  CHECK_OK(corral_client_create(b, deep, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  expect_watch(w, tree, CORRAL_EVENT_TYPE_NODE_CREATED, deep);
  CHECK_OK(corral_client_set_data(b, deep, (const uint8_t *)"x", 1, -1, NULL));
  expect_watch(w, tree, CORRAL_EVENT_TYPE_NODE_DATA_CHANGED, deep);
  CHECK_OK(corral_client_set_data(b, deep, (const uint8_t *)"y", 1, -1, NULL));
  expect_watch(w, tree, CORRAL_EVENT_TYPE_NODE_DATA_CHANGED, deep);
  CHECK_OK(corral_client_delete(b, deep, -1));
  expect_watch(w, tree, CORRAL_EVENT_TYPE_NODE_DELETED, deep);
  /* Removed: the next change of the tree is not reported; the marker's
   * persistent watch (changed after it) is. */
  CHECK_OK(corral_client_remove_watch(a, tree));
  CHECK_OK(corral_client_remove_watch(a, 123456789)); /* unknown: ignored */
  CHECK_RC(corral_client_remove_watch(NULL, tree), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_client_delete(b, sub, -1));
  CHECK_OK(corral_client_set_data(b, marker, (const uint8_t *)"m", 1, -1, NULL));
  expect_watch(w, marker_watch, CORRAL_EVENT_TYPE_NODE_DATA_CHANGED, marker);

  /* Close: the queue ends with the CLOSED state; once the client is freed
   * (which drops whatever was not yet forwarded to the queue, so free only
   * after CLOSED came), the watcher that outlives it says CLOSING. */
  CHECK_OK(corral_client_close(a));
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, WAIT_MS, &event));
    corral_event_clear(&event);
    if (event.kind == CORRAL_EVENT_KIND_SESSION && event.session_state == CORRAL_SESSION_STATE_CLOSED) {
      break;
    }
  }
  corral_client_free(a);
  CHECK_RC(corral_watcher_next(w, WAIT_MS, &event), CORRAL_RESULT_CLOSING);
  corral_watcher_free(w);
  CHECK_OK(corral_client_close(b));
  corral_client_free(b);
}

/* What the callback saw, shared with the main thread. */
struct seen {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  pthread_t main_thread;
  int on_main_thread;
  int connected;
  int closed;
  int events_after_closed;
  int freed;
  int calls_after_free;
  int data_changes;
  uint64_t last_watch;
  char last_path[256];
};

static void on_event(void *userdata, const corral_event *event) {
  struct seen *seen = userdata;
  pthread_mutex_lock(&seen->lock);
  if (pthread_equal(pthread_self(), seen->main_thread)) {
    seen->on_main_thread = 1;
  }
  if (seen->closed) {
    seen->events_after_closed++;
  }
  if (seen->freed) {
    seen->calls_after_free++;
  }
  if (event->kind == CORRAL_EVENT_KIND_SESSION) {
    seen->connected += event->session_state == CORRAL_SESSION_STATE_CONNECTED;
    seen->closed += event->session_state == CORRAL_SESSION_STATE_CLOSED;
  } else if (event->kind == CORRAL_EVENT_KIND_WATCH &&
             event->event_type == CORRAL_EVENT_TYPE_NODE_DATA_CHANGED) {
    seen->data_changes++;
    seen->last_watch = event->watch;
    snprintf(seen->last_path, sizeof seen->last_path, "%s", event->path);
  }
  pthread_cond_broadcast(&seen->changed);
  pthread_mutex_unlock(&seen->lock);
}

/* A callback that counts calls slowly (1 ms each), so that events pile up
 * in the queue; calls after `freed` is set are counted apart. */
struct slow {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int calls;
  int freed;
  int calls_after_free;
};

static void on_event_slowly(void *userdata, const corral_event *event) {
  struct slow *slow = userdata;
  struct timespec pause = {0, 1000000};
  (void)event;
  nanosleep(&pause, NULL);
  pthread_mutex_lock(&slow->lock);
  slow->calls++;
  slow->calls_after_free += slow->freed;
  pthread_cond_broadcast(&slow->changed);
  pthread_mutex_unlock(&slow->lock);
}

/* Freeing a callback client with events still queued: once free returns
 * the callback is never called again (the delivery thread would otherwise
 * go on draining the queue into freed user data). The 50 ms pause after
 * free gives such a late call the chance to show; nothing is asserted on
 * timing. */
static void test_free_stops_callbacks(const char *base) {
  struct slow slow;
  corral_client *d = NULL, *b = connect_pull();
  char node[256];
  uint64_t watch = 0;
  int i;
  struct timespec deadline, pause = {0, 50000000};
  memset(&slow, 0, sizeof slow);
  pthread_mutex_init(&slow.lock, NULL);
  pthread_cond_init(&slow.changed, NULL);
  snprintf(node, sizeof node, "%s/slow", base);
  CHECK_OK(corral_client_create(b, node, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, on_event_slowly, &slow, &d));
  CHECK_OK(corral_client_add_watch(d, node, CORRAL_ADD_WATCH_MODE_PERSISTENT, &watch));
  for (i = 0; i < 200; i++) {
    CHECK_OK(corral_client_set_data(b, node, (const uint8_t *)"x", 1, -1, NULL));
  }
  /* Wait (bounded) until deliveries are under way, then free mid-stream. */
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&slow.lock);
  while (slow.calls < 5 && pthread_cond_timedwait(&slow.changed, &slow.lock, &deadline) == 0) {
  }
  CHECK(slow.calls >= 5);
  pthread_mutex_unlock(&slow.lock);
  corral_client_free(d);
  pthread_mutex_lock(&slow.lock);
  slow.freed = 1;
  pthread_mutex_unlock(&slow.lock);
  nanosleep(&pause, NULL);
  pthread_mutex_lock(&slow.lock);
  CHECK(slow.calls_after_free == 0);
  pthread_mutex_unlock(&slow.lock);
  CHECK_OK(corral_client_close(b));
  corral_client_free(b);
  pthread_cond_destroy(&slow.changed);
  pthread_mutex_destroy(&slow.lock);
}

/* Waits (bounded) until *counter reaches want; the caller holds the lock. */
static int wait_for(struct seen *seen, const int *counter, int want) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += WAIT_MS / 1000;
  while (*counter < want) {
    if (pthread_cond_timedwait(&seen->changed, &seen->lock, &deadline) != 0) {
      return *counter >= want;
    }
  }
  return 1;
}

static void test_callback(const char *base) {
  struct seen seen;
  corral_client *c = NULL, *b = connect_pull();
  corral_watcher *w = NULL;
  char node[256];
  uint8_t *data = NULL;
  size_t len = 0;
  uint64_t watch = 0;

  memset(&seen, 0, sizeof seen);
  pthread_mutex_init(&seen.lock, NULL);
  pthread_cond_init(&seen.changed, NULL);
  seen.main_thread = pthread_self();
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, on_event, &seen, &c));
  /* A callback client has no pull queue. */
  CHECK_RC(corral_client_events(c, &w), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK(w == NULL);

  snprintf(node, sizeof node, "%s/cb", base);
  CHECK_OK(corral_client_create(b, node, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  CHECK_OK(corral_client_get_data_watch(c, node, &data, &len, NULL, &watch));
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_set_data(b, node, (const uint8_t *)"z", 1, -1, NULL));

  pthread_mutex_lock(&seen.lock);
  CHECK(wait_for(&seen, &seen.data_changes, 1));
  CHECK(seen.connected >= 1);
  CHECK(seen.last_watch == watch && strcmp(seen.last_path, node) == 0);
  pthread_mutex_unlock(&seen.lock);

  CHECK_OK(corral_client_close(c));
  pthread_mutex_lock(&seen.lock);
  CHECK(wait_for(&seen, &seen.closed, 1));
  pthread_mutex_unlock(&seen.lock);
  /* Once free returns, the callback never runs again. */
  corral_client_free(c);
  pthread_mutex_lock(&seen.lock);
  seen.freed = 1;
  pthread_mutex_unlock(&seen.lock);
  CHECK_OK(corral_client_set_data(b, node, (const uint8_t *)"w", 1, -1, NULL));
  CHECK_OK(corral_client_sync(b, node));
  pthread_mutex_lock(&seen.lock);
  CHECK(seen.on_main_thread == 0 && seen.closed == 1 && seen.events_after_closed == 0);
  CHECK(seen.calls_after_free == 0);
  pthread_mutex_unlock(&seen.lock);

  CHECK_OK(corral_client_close(b));
  corral_client_free(b);
  pthread_cond_destroy(&seen.changed);
  pthread_mutex_destroy(&seen.lock);
}

int main(void) {
  char base[128];
  test_base(base, sizeof base, "watch");
  test_pull(base);
  test_callback(base);
  test_free_stops_callbacks(base);
  printf("test_watch: %d checks passed\n", (int)checks_passed);
  return 0;
}
