/* leader_worker: a daemon of which one instance works at a time. Every
 * instance joins a leader latch; the leader appends work items to a log
 * node, each stamped with its fencing token, so that a consumer can refuse
 * items from a deposed leader (a lower token than one already seen).
 *
 *   leader_worker HOSTS LATCH_PATH LOG_PATH ID ITEMS
 *   e.g. leader_worker 127.0.0.1:2181 /app/leader /app/work worker-1 5
 *
 * It waits for leadership, writes ITEMS items as sequential children of
 * LOG_PATH ("<id> token=<fencing token> item=<n>"), then leaves the latch
 * so another instance takes over. */
#include <stdio.h>
#include <stdlib.h>

#include "corral.h"

static int fail(const char *what, corral_result rc) {
  char message[256];
  corral_last_error_message(message, sizeof message, NULL);
  fprintf(stderr, "%s: %s (%d): %s\n", what, corral_result_message(rc), (int)rc, message);
  return 1;
}

/* Creates LOG_PATH if missing (another instance may race us to it). */
static corral_result ensure(corral_client *client, const char *path) {
  corral_result rc = corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0,
                                          NULL, NULL);
  return rc == CORRAL_RESULT_NODE_EXISTS ? CORRAL_RESULT_OK : rc;
}

static corral_result work(corral_client *client, corral_leader_latch *latch, const char *log,
                          const char *id, int items) {
  char item_path[512], line[256];
  int64_t token = 0;
  int32_t state = 0;
  int n, len;
  corral_result rc = corral_leader_latch_wait(latch, -1, &token);
  if (rc != CORRAL_RESULT_OK) {
    return rc;
  }
  printf("%s leads with fencing token %lld\n", id, (long long)token);
  snprintf(item_path, sizeof item_path, "%s/item-", log);
  for (n = 0; n < items; n++) {
    /* Still the leader? (The token in the item guards against the case
     * where leadership is lost between this check and the write.) */
    rc = corral_leader_latch_state(latch, &state, NULL);
    if (rc != CORRAL_RESULT_OK || state != CORRAL_LATCH_STATE_LEADER) {
      fprintf(stderr, "%s lost leadership\n", id);
      return rc;
    }
    len = snprintf(line, sizeof line, "%s token=%lld item=%d", id, (long long)token, n);
    rc = corral_client_create(client, item_path, (const uint8_t *)line, (size_t)len,
                              CORRAL_CREATE_MODE_PERSISTENT_SEQUENTIAL, 0, NULL, NULL);
    if (rc != CORRAL_RESULT_OK) {
      return rc;
    }
    printf("%s\n", line);
  }
  return CORRAL_RESULT_OK;
}

int main(int argc, char **argv) {
  corral_client *client = NULL;
  corral_leader_latch *latch = NULL;
  corral_result rc;

  if (argc != 6) {
    fprintf(stderr, "usage: %s HOSTS LATCH_PATH LOG_PATH ID ITEMS\n", argv[0]);
    return 2;
  }
  rc = corral_client_connect(argv[1], 10000, NULL, NULL, NULL, &client);
  if (rc != CORRAL_RESULT_OK) {
    return fail("connect", rc);
  }
  rc = ensure(client, argv[3]);
  if (rc == CORRAL_RESULT_OK) {
    rc = corral_leader_latch_start(client, argv[2], argv[4], &latch);
  }
  if (rc == CORRAL_RESULT_OK) {
    rc = work(client, latch, argv[3], argv[4], atoi(argv[5]));
  }
  if (rc != CORRAL_RESULT_OK) {
    fail("leader_worker", rc);
  }
  corral_leader_latch_close(latch); /* hand over to the next instance */
  corral_leader_latch_free(latch);
  corral_client_close(client);
  corral_client_free(client);
  return rc == CORRAL_RESULT_OK ? 0 : 1;
}
