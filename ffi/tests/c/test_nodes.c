/* Every node operation of the C ABI against a real server, with its error
 * paths: no node, bad version, node exists, not empty, invalid path, NULL
 * arguments, invalid UTF-8, bad modes, no auth, invalid ACL, oversized
 * data; ACLs and
 * addAuth; null versus empty data; the last
 * error's message and path; version and result messages. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

static corral_client *connect_client(void) {
  corral_client *client = NULL;
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &client));
  CHECK(client != NULL);
  return client;
}

static void test_meta(void) {
  CHECK(strcmp(corral_version(), "0.1.0") == 0);
  CHECK(strcmp(corral_result_message(CORRAL_RESULT_NO_NODE), "no node") == 0);
  CHECK(strcmp(corral_result_message(CORRAL_RESULT_NULL_ARGUMENT), "null argument") == 0);
  CHECK(strcmp(corral_result_message(12345), "unknown result code") == 0);
  CHECK(CORRAL_RESULT_NO_NODE == -101 && CORRAL_RESULT_BAD_VERSION == -103 &&
        CORRAL_RESULT_NODE_EXISTS == -110 && CORRAL_RESULT_NOT_EMPTY == -111);
}

static void test_null_and_bad_arguments(corral_client *client, const char *base) {
  corral_client *none = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  bool exists = false;
  char message[256];
  size_t n = 0;
  /* NULL handles, strings and required out-pointers. */
  CHECK_RC(corral_client_connect(NULL, 0, NULL, NULL, NULL, &none), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK(none == NULL);
  CHECK_RC(corral_client_connect(test_hosts(), 0, NULL, NULL, NULL, NULL),
           CORRAL_RESULT_NULL_ARGUMENT);
  corral_last_error_message(message, sizeof message, &n);
  CHECK(strcmp(message, "argument `client_out` is NULL") == 0 && n == strlen(message));
  CHECK_RC(corral_client_get_data(NULL, "/", &data, &len, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_get_data(client, NULL, &data, &len, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_get_data(client, "/", NULL, &len, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_exists(client, "/", NULL, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_create(client, base, NULL, 3, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL,
                                NULL),
           CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_delete(NULL, "/x", -1), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_sync(client, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_session_token(client, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_close(NULL), CORRAL_RESULT_NULL_ARGUMENT);
  /* Invalid UTF-8 in a path and in a connect string. */
  CHECK_RC(corral_client_exists(client, "/bad\xff\xfe", &exists, NULL),
           CORRAL_RESULT_INVALID_UTF8);
  CHECK_RC(corral_client_connect("127.0.0.1:1\xc3", 0, NULL, NULL, NULL, &none),
           CORRAL_RESULT_INVALID_UTF8);
  /* Invalid paths, modes, TTLs and tokens are BAD_ARGUMENTS. */
  CHECK_RC(corral_client_exists(client, "no-slash", &exists, NULL), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_get_data(client, "/trailing/", &data, &len, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_create(client, "/a//b", (const uint8_t *)"", 0,
                                CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_create(client, base, (const uint8_t *)"", 0, 99, 0, NULL, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_create(client, base, (const uint8_t *)"", 0,
                                CORRAL_CREATE_MODE_PERSISTENT, 5000, NULL, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_create(client, base, (const uint8_t *)"", 0,
                                CORRAL_CREATE_MODE_PERSISTENT_WITH_TTL, 0, NULL, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_create(client, base, (const uint8_t *)"", 0,
                                CORRAL_CREATE_MODE_PERSISTENT_WITH_TTL, -5, NULL, NULL),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_client_connect(test_hosts(), 0, "v9:nonsense", NULL, NULL, &none),
           CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK(none == NULL);
  /* Free functions accept NULL. */
  corral_client_free(NULL);
  corral_string_free(NULL);
  corral_bytes_free(NULL, 0);
  corral_strings_free(NULL, 0);
  corral_event_clear(NULL);
  corral_watcher_free(NULL);
  corral_mutex_free(NULL);
  corral_lease_free(NULL);
}

static void test_create_get_set_delete(corral_client *client, const char *base) {
  char path[256], child[256];
  char *created = NULL;
  corral_stat stat;
  uint8_t *data = NULL;
  size_t len = 99;
  bool exists = true;
  char message[256], where[256];
  int64_t session_id = 0;

  /* Missing node: NO_NODE with the path in the last error. */
  snprintf(path, sizeof path, "%s/missing", base);
  CHECK_RC(corral_client_get_data(client, path, &data, &len, NULL), CORRAL_RESULT_NO_NODE);
  corral_last_error_path(where, sizeof where, NULL);
  CHECK(strcmp(where, path) == 0);
  corral_last_error_message(message, sizeof message, NULL);
  CHECK(strlen(message) > 0);
  CHECK(data == NULL && len == 99); /* outputs untouched on failure */
  CHECK_OK(corral_client_exists(client, path, &exists, NULL));
  CHECK(!exists);
  /* A success clears the last error. */
  corral_last_error_message(message, sizeof message, NULL);
  CHECK(message[0] == '\0');

  /* Persistent with data; path_out and stat_out. */
  CHECK_OK(corral_client_create(client, base, (const uint8_t *)"v1", 2,
                                CORRAL_CREATE_MODE_PERSISTENT, 0, &created, &stat));
  CHECK(strcmp(created, base) == 0);
  CHECK(stat.version == 0 && stat.data_length == 2 && stat.ephemeral_owner == 0);
  corral_string_free(created);
  CHECK_RC(corral_client_create(client, base, (const uint8_t *)"v1", 2,
                                CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL),
           CORRAL_RESULT_NODE_EXISTS);
  snprintf(path, sizeof path, "%s/no/parent", base);
  CHECK_RC(corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL,
                                NULL),
           CORRAL_RESULT_NO_NODE);

  CHECK_OK(corral_client_get_data(client, base, &data, &len, &stat));
  CHECK(data != NULL && len == 2 && memcmp(data, "v1", 2) == 0 && stat.version == 0);
  corral_bytes_free(data, len);

  /* Null data versus empty data. */
  snprintf(path, sizeof path, "%s/null", base);
  CHECK_OK(corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL,
                                NULL));
  data = (uint8_t *)1;
  CHECK_OK(corral_client_get_data(client, path, &data, &len, NULL));
  CHECK(data == NULL && len == 0);
  snprintf(path, sizeof path, "%s/empty", base);
  CHECK_OK(corral_client_create(client, path, (const uint8_t *)"", 0,
                                CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, NULL));
  CHECK_OK(corral_client_get_data(client, path, &data, &len, NULL));
  CHECK(data != NULL && len == 0);
  corral_bytes_free(data, len);

  /* set with versions. */
  CHECK_OK(corral_client_set_data(client, base, (const uint8_t *)"v2", 2, 0, &stat));
  CHECK(stat.version == 1);
  CHECK_RC(corral_client_set_data(client, base, (const uint8_t *)"v3", 2, 0, NULL),
           CORRAL_RESULT_BAD_VERSION);
  CHECK_OK(corral_client_set_data(client, base, (const uint8_t *)"v3", 2, -1, NULL));
  snprintf(path, sizeof path, "%s/missing", base);
  CHECK_RC(corral_client_set_data(client, path, (const uint8_t *)"x", 1, -1, NULL),
           CORRAL_RESULT_NO_NODE);
  CHECK_OK(corral_client_get_data(client, base, &data, &len, &stat));
  CHECK(len == 2 && memcmp(data, "v3", 2) == 0 && stat.version == 2);
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_exists(client, base, &exists, &stat));
  CHECK(exists && stat.version == 2 && stat.num_children == 2);

  /* Sequential and ephemeral modes. */
  snprintf(path, sizeof path, "%s/seq-", base);
  CHECK_OK(corral_client_create(client, path, (const uint8_t *)"s", 1,
                                CORRAL_CREATE_MODE_PERSISTENT_SEQUENTIAL, 0, &created, NULL));
  CHECK(strncmp(created, path, strlen(path)) == 0 && strlen(created) == strlen(path) + 10);
  corral_string_free(created);
  CHECK_OK(corral_client_session_id(client, &session_id));
  CHECK(session_id != 0);
  snprintf(path, sizeof path, "%s/eph", base);
  CHECK_OK(corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_EPHEMERAL, 0, NULL,
                                &stat));
  CHECK(stat.ephemeral_owner == session_id);
  snprintf(child, sizeof child, "%s/eph/child", base);
  CHECK_RC(corral_client_create(client, child, NULL, 0, CORRAL_CREATE_MODE_PERSISTENT, 0, NULL,
                                NULL),
           CORRAL_RESULT_NO_CHILDREN_FOR_EPHEMERALS);
  snprintf(path, sizeof path, "%s/eseq-", base);
  CHECK_OK(corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_EPHEMERAL_SEQUENTIAL,
                                0, &created, &stat));
  CHECK(stat.ephemeral_owner == session_id && strlen(created) == strlen(path) + 10);
  corral_string_free(created);
  /* Container and TTL modes. */
  snprintf(path, sizeof path, "%s/container", base);
  CHECK_OK(corral_client_create(client, path, NULL, 0, CORRAL_CREATE_MODE_CONTAINER, 0, NULL,
                                NULL));
  snprintf(path, sizeof path, "%s/ttl", base);
  CHECK_OK(corral_client_create(client, path, (const uint8_t *)"t", 1,
                                CORRAL_CREATE_MODE_PERSISTENT_WITH_TTL, 60000, NULL, NULL));
  snprintf(path, sizeof path, "%s/ttlseq-", base);
  CHECK_OK(corral_client_create(client, path, NULL, 0,
                                CORRAL_CREATE_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL, 60000, &created,
                                NULL));
  corral_string_free(created);

  /* Children. */
  {
    char **children = NULL;
    size_t count = 0, i;
    int seen_null = 0, seen_eph = 0, seen_container = 0;
    CHECK_OK(corral_client_get_children(client, base, &children, &count, &stat));
    CHECK(count == 8 && stat.num_children == 8);
    for (i = 0; i < count; i++) {
      seen_null += strcmp(children[i], "null") == 0;
      seen_eph += strcmp(children[i], "eph") == 0;
      seen_container += strcmp(children[i], "container") == 0;
      CHECK(strchr(children[i], '/') == NULL);
    }
    CHECK(seen_null == 1 && seen_eph == 1 && seen_container == 1);
    corral_strings_free(children, count);
    snprintf(path, sizeof path, "%s/null", base);
    CHECK_OK(corral_client_get_children(client, path, &children, &count, NULL));
    CHECK(children != NULL && count == 0);
    corral_strings_free(children, count);
    snprintf(path, sizeof path, "%s/missing", base);
    CHECK_RC(corral_client_get_children(client, path, &children, &count, NULL), CORRAL_RESULT_NO_NODE);
  }

  /* sync, then delete with versions. */
  CHECK_OK(corral_client_sync(client, base));
  CHECK_RC(corral_client_delete(client, base, -1), CORRAL_RESULT_NOT_EMPTY);
  snprintf(path, sizeof path, "%s/null", base);
  CHECK_RC(corral_client_delete(client, path, 7), CORRAL_RESULT_BAD_VERSION);
  CHECK_OK(corral_client_delete(client, path, 0));
  CHECK_RC(corral_client_delete(client, path, -1), CORRAL_RESULT_NO_NODE);
  CHECK_OK(corral_client_exists(client, path, &exists, NULL));
  CHECK(!exists);
}

static void test_chroot(corral_client *client, const char *base) {
  char hosts[512], path[256];
  corral_client *rooted = NULL;
  char *created = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  snprintf(hosts, sizeof hosts, "%s%s", test_hosts(), base);
  CHECK_OK(corral_client_connect(hosts, 0, NULL, NULL, NULL, &rooted));
  CHECK_OK(corral_client_create(rooted, "/inside", (const uint8_t *)"in", 2,
                                CORRAL_CREATE_MODE_PERSISTENT, 0, &created, NULL));
  CHECK(strcmp(created, "/inside") == 0);
  corral_string_free(created);
  snprintf(path, sizeof path, "%s/inside", base);
  CHECK_OK(corral_client_get_data(client, path, &data, &len, NULL));
  CHECK(len == 2 && memcmp(data, "in", 2) == 0);
  corral_bytes_free(data, len);
  CHECK_OK(corral_client_close(rooted));
  corral_client_free(rooted);
}

static void test_acl(corral_client *owner, const char *base) {
  corral_client *stranger = NULL;
  char path[256];
  uint8_t *data = NULL;
  size_t len = 0, count = 0, i;
  corral_acl *acl = NULL;
  corral_stat stat;
  int digest_entries = 0;
  const corral_acl creator_only[] = {{CORRAL_PERM_ALL, "auth", ""}};
  const corral_acl world_read[] = {{CORRAL_PERM_READ, "world", "anyone"}};
  const corral_acl null_scheme[] = {{CORRAL_PERM_READ, NULL, "anyone"}};

  snprintf(path, sizeof path, "%s/secret", base);
  /* "auth" without credentials on the session: INVALID_ACL. */
  CHECK_RC(corral_client_create_with_acl(owner, path, (const uint8_t *)"s", 1,
                                         CORRAL_CREATE_MODE_PERSISTENT, 0, creator_only, 1, NULL,
                                         NULL),
           CORRAL_RESULT_INVALID_ACL);
  CHECK_RC(corral_client_add_auth(owner, "digest", NULL, 4), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_client_add_auth(owner, "digest", (const uint8_t *)"alice:pw", 8));
  CHECK_RC(corral_client_create_with_acl(owner, path, (const uint8_t *)"s", 1,
                                         CORRAL_CREATE_MODE_PERSISTENT, 0, NULL, 1, NULL, NULL),
           CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_create_with_acl(owner, path, (const uint8_t *)"s", 1,
                                         CORRAL_CREATE_MODE_PERSISTENT, 0, null_scheme, 1, NULL,
                                         NULL),
           CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_OK(corral_client_create_with_acl(owner, path, (const uint8_t *)"s", 1,
                                         CORRAL_CREATE_MODE_PERSISTENT, 0, creator_only, 1, NULL,
                                         NULL));
  CHECK_OK(corral_client_get_acl(owner, path, &acl, &count, &stat));
  for (i = 0; i < count; i++) {
    digest_entries += strcmp(acl[i].scheme, "digest") == 0 &&
                      strncmp(acl[i].id, "alice:", 6) == 0 && acl[i].perms == CORRAL_PERM_ALL;
  }
  CHECK(count == 1 && digest_entries == 1 && stat.aversion == 0);
  corral_acl_list_free(acl, count);

  /* Another session without the credentials: NO_AUTH, until it adds them. */
  CHECK_OK(corral_client_connect(test_hosts(), 10000, NULL, NULL, NULL, &stranger));
  CHECK_RC(corral_client_get_data(stranger, path, &data, &len, NULL), CORRAL_RESULT_NO_AUTH);
  CHECK_RC(corral_client_set_data(stranger, path, (const uint8_t *)"x", 1, -1, NULL),
           CORRAL_RESULT_NO_AUTH);
  CHECK_RC(corral_client_set_acl(stranger, path, world_read, 1, -1, NULL), CORRAL_RESULT_NO_AUTH);

  /* set_acl: versions, NULL list; then the world may read. */
  CHECK_RC(corral_client_set_acl(owner, path, NULL, 0, -1, NULL), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_client_set_acl(owner, path, world_read, 1, 5, NULL), CORRAL_RESULT_BAD_VERSION);
  CHECK_OK(corral_client_set_acl(owner, path, world_read, 1, 0, &stat));
  CHECK(stat.aversion == 1);
  CHECK_OK(corral_client_get_data(stranger, path, &data, &len, NULL));
  CHECK(len == 1 && data[0] == 's');
  corral_bytes_free(data, len);
  CHECK_RC(corral_client_set_data(stranger, path, (const uint8_t *)"x", 1, -1, NULL),
           CORRAL_RESULT_NO_AUTH);
  CHECK_OK(corral_client_get_acl(stranger, path, &acl, &count, NULL));
  CHECK(count == 1 && acl[0].perms == CORRAL_PERM_READ && strcmp(acl[0].scheme, "world") == 0 &&
        strcmp(acl[0].id, "anyone") == 0);
  corral_acl_list_free(acl, count);
  corral_acl_list_free(NULL, 0);
  snprintf(path, sizeof path, "%s/missing", base);
  CHECK_RC(corral_client_get_acl(owner, path, &acl, &count, NULL), CORRAL_RESULT_NO_NODE);
  CHECK_OK(corral_client_close(stranger));
  corral_client_free(stranger);
}

/* Data over the server's packet limit (1 MiB, ZooKeeper's jute.maxbuffer):
 * the server drops the connection, as ZooKeeper does, and the client
 * reconnects with the same session. */
static void test_oversized(corral_client *client, const char *base) {
  static uint8_t big[2 * 1024 * 1024];
  char path[256];
  bool exists = true;
  snprintf(path, sizeof path, "%s/big", base);
  CHECK_RC(corral_client_create(client, path, big, sizeof big, CORRAL_CREATE_MODE_PERSISTENT, 0,
                                NULL, NULL),
           CORRAL_RESULT_CONNECTION_LOSS);
  CHECK_OK(corral_client_exists(client, path, &exists, NULL));
  CHECK(!exists);
}

static void test_close(void) {
  corral_client *client = connect_client();
  bool exists = false;
  CHECK_OK(corral_client_close(client));
  CHECK_OK(corral_client_close(client)); /* closing twice is no error */
  /* Use after close: a clear code, never a crash. */
  CHECK_RC(corral_client_exists(client, "/", &exists, NULL), CORRAL_RESULT_CLOSING);
  corral_client_free(client);
}

int main(void) {
  char base[128];
  corral_client *client;
  test_base(base, sizeof base, "nodes");
  test_meta();
  client = connect_client();
  test_null_and_bad_arguments(client, base);
  test_create_get_set_delete(client, base);
  test_chroot(client, base);
  test_acl(client, base);
  test_oversized(client, base);
  test_close();
  CHECK_OK(corral_client_close(client));
  corral_client_free(client);
  printf("test_nodes: %d checks passed\n", (int)checks_passed);
  return 0;
}
