/* config_watcher: prints a configuration node's value now and after every
 * change, until the node is deleted or the session ends.
 *
 *   config_watcher HOSTS PATH        e.g. config_watcher 127.0.0.1:2181 /app/config
 *
 * A persistent watch on PATH delivers every change to the pull queue;
 * each event is followed by a fresh read (an event says what changed, not
 * the new value). */
#include <stdio.h>
#include <string.h>

#include "corral.h"

static int fail(const char *what, corral_result rc) {
  char message[256];
  corral_last_error_message(message, sizeof message, NULL);
  fprintf(stderr, "%s: %s (%d): %s\n", what, corral_result_message(rc), (int)rc, message);
  return 1;
}

/* Prints PATH's value; returns the result of the read. */
static corral_result show(corral_client *client, const char *path) {
  uint8_t *data = NULL;
  size_t len = 0;
  corral_stat stat;
  corral_result rc = corral_client_get_data(client, path, &data, &len, &stat);
  if (rc == CORRAL_RESULT_OK) {
    printf("%s = \"%.*s\" (version %d)\n", path, (int)len, data ? (const char *)data : "",
           (int)stat.version);
    corral_bytes_free(data, len);
  } else if (rc == CORRAL_RESULT_NO_NODE) {
    printf("%s does not exist (yet)\n", path);
  }
  fflush(stdout);
  return rc;
}

int main(int argc, char **argv) {
  corral_client *client = NULL;
  corral_watcher *events = NULL;
  corral_event event;
  uint64_t watch = 0;
  corral_result rc;
  int running = 1;

  if (argc != 3) {
    fprintf(stderr, "usage: %s HOSTS PATH\n", argv[0]);
    return 2;
  }
  rc = corral_client_connect(argv[1], 10000, NULL, NULL, NULL, &client);
  if (rc != CORRAL_RESULT_OK) {
    return fail("connect", rc);
  }
  rc = corral_client_events(client, &events);
  if (rc == CORRAL_RESULT_OK) {
    /* Watch first, then read: no change can fall between the two. */
    rc = corral_client_add_watch(client, argv[2], CORRAL_ADD_WATCH_MODE_PERSISTENT, &watch);
  }
  if (rc != CORRAL_RESULT_OK) {
    corral_client_free(client);
    return fail("watch", rc);
  }
  rc = show(client, argv[2]);
  if (rc != CORRAL_RESULT_OK && rc != CORRAL_RESULT_NO_NODE) {
    running = 0;
  }
  while (running) {
    memset(&event, 0, sizeof event);
    rc = corral_watcher_next(events, -1, &event);
    if (rc != CORRAL_RESULT_OK) {
      fail("next event", rc);
      break;
    }
    if (event.kind == CORRAL_EVENT_KIND_WATCH && event.watch == watch) {
      if (event.event_type == CORRAL_EVENT_TYPE_NODE_DELETED) {
        printf("%s deleted: exiting\n", argv[2]);
        running = 0;
      } else {
        show(client, argv[2]);
      }
    } else if (event.kind == CORRAL_EVENT_KIND_RESYNC) {
      show(client, argv[2]); /* events were dropped: re-read */
    } else if (event.kind == CORRAL_EVENT_KIND_SESSION &&
               (event.session_state == CORRAL_SESSION_STATE_EXPIRED ||
                event.session_state == CORRAL_SESSION_STATE_CLOSED)) {
      fprintf(stderr, "session ended\n");
      running = 0;
    }
    corral_event_clear(&event);
  }
  corral_watcher_free(events);
  corral_client_close(client);
  corral_client_free(client);
  return 0;
}
