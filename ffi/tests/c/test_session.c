/* Session hand-over between two processes.
 *   test_session export FILE: connect, create an ephemeral node, write the
 *     session token and the node's path to FILE, detach (not close).
 *   test_session resume FILE: resume the session from FILE in this new
 *     process: the ephemeral node survived and belongs to the resumed
 *     session; a watch set by the resumer sees a later change by another
 *     client; closing the resumed session deletes the ephemeral node. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

static int export_session(const char *file) {
  corral_client *client = NULL;
  char node[128], *token = NULL;
  int64_t id = 0;
  corral_stat stat;
  FILE *out;
  test_base(node, sizeof node, "session");
  CHECK_OK(corral_client_connect(test_hosts(), 20000, NULL, NULL, NULL, &client));
  CHECK_OK(corral_client_session_id(client, &id));
  CHECK_OK(corral_client_create(client, node, (const uint8_t *)"held", 4,
                                CORRAL_CREATE_MODE_EPHEMERAL, 0, NULL, &stat));
  CHECK(stat.ephemeral_owner == id);
  CHECK_OK(corral_client_session_token(client, &token));
  CHECK(strncmp(token, "v1:", 3) == 0);
  out = fopen(file, "w");
  CHECK(out != NULL);
  fprintf(out, "%s\n%s\n", token, node);
  CHECK(fclose(out) == 0);
  corral_string_free(token);
  CHECK_OK(corral_client_detach(client));
  /* Detached: this handle is done, the session is not. */
  CHECK_RC(corral_client_sync(client, node), CORRAL_RESULT_CLOSING);
  corral_client_free(client);
  printf("test_session export: %d checks passed\n", (int)checks_passed);
  return 0;
}

static int resume_session(const char *file) {
  corral_client *resumed = NULL, *other = NULL;
  corral_watcher *w = NULL;
  corral_event event;
  char token[512], node[256];
  uint8_t *data = NULL;
  size_t len = 0;
  int64_t id = 0, exported_id = 0;
  corral_stat stat;
  uint64_t watch = 0;
  bool exists = true;
  FILE *in = fopen(file, "r");
  CHECK(in != NULL);
  CHECK(fgets(token, sizeof token, in) != NULL && fgets(node, sizeof node, in) != NULL);
  fclose(in);
  token[strcspn(token, "\n")] = '\0';
  node[strcspn(node, "\n")] = '\0';
  exported_id = (int64_t)strtoull(token + 3, NULL, 16);

  CHECK_OK(corral_client_connect(test_hosts(), 0, token, NULL, NULL, &resumed));
  CHECK_OK(corral_client_session_id(resumed, &id));
  CHECK(id == exported_id);
  CHECK_OK(corral_client_get_data_watch(resumed, node, &data, &len, &stat, &watch));
  CHECK(len == 4 && memcmp(data, "held", 4) == 0 && stat.ephemeral_owner == id);
  corral_bytes_free(data, len);

  CHECK_OK(corral_client_connect(test_hosts(), 0, NULL, NULL, NULL, &other));
  CHECK_OK(corral_client_set_data(other, node, (const uint8_t *)"next", 4, -1, NULL));
  CHECK_OK(corral_client_events(resumed, &w));
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, 10000, &event));
    if (event.kind == CORRAL_EVENT_KIND_WATCH) {
      break;
    }
  }
  CHECK(event.watch == watch && event.event_type == CORRAL_EVENT_TYPE_NODE_DATA_CHANGED &&
        strcmp(event.path, node) == 0);
  corral_event_clear(&event);
  corral_watcher_free(w);

  CHECK_OK(corral_client_close(resumed));
  corral_client_free(resumed);
  /* The session is over: its ephemeral node is gone, and the token no
   * longer resumes anything. */
  CHECK_OK(corral_client_sync(other, node));
  CHECK_OK(corral_client_exists(other, node, &exists, NULL));
  CHECK(!exists);
  CHECK_RC(corral_client_connect(test_hosts(), 0, token, NULL, NULL, &resumed),
           CORRAL_RESULT_SESSION_EXPIRED);
  CHECK_OK(corral_client_close(other));
  corral_client_free(other);
  printf("test_session resume: %d checks passed\n", (int)checks_passed);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "export") == 0) {
    return export_session(argv[2]);
  }
  if (argc == 3 && strcmp(argv[1], "resume") == 0) {
    return resume_session(argv[2]);
  }
  fprintf(stderr, "usage: test_session export|resume FILE\n");
  return 2;
}
