/* The leader latch through the C ABI: one leader among three
 * participants, leader observation, leadership events with fencing
 * tokens, a graceful hand-over (close), and a leader whose connection
 * is cut (detach: its session is left to expire) replaced by the next
 * participant within 3x the session timeout (the time taken is printed,
 * never asserted beyond that bound). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "check.h"

#define SESSION_TIMEOUT_MS 4000

static corral_client *connect_client(void) {
  corral_client *client = NULL;
  CHECK_OK(corral_client_connect(test_hosts(), SESSION_TIMEOUT_MS, NULL, NULL, NULL, &client));
  return client;
}

/* The next leadership event of watch on w in state want; other events
 * (session states, repeated follower states) are skipped. */
static corral_event next_leadership(corral_watcher *w, uint64_t watch, int32_t want) {
  corral_event event;
  for (;;) {
    memset(&event, 0, sizeof event);
    CHECK_OK(corral_watcher_next(w, 3 * SESSION_TIMEOUT_MS, &event));
    corral_event_clear(&event);
    if (event.kind == CORRAL_EVENT_KIND_LEADERSHIP && event.watch == watch &&
        event.latch_state == want) {
      return event;
    }
  }
}

static long long elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)(now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

int main(void) {
  char path[128], *leader = NULL;
  corral_client *c0 = connect_client(), *c1 = connect_client(), *c2 = connect_client();
  corral_leader_latch *l0 = NULL, *l1 = NULL, *l2 = NULL;
  corral_watcher *w2 = NULL;
  corral_event event;
  int32_t state = -1;
  int64_t t0 = 0, t1 = 0, t2 = 0, token = -1;
  uint64_t watch = 0;
  struct timespec cut;
  long long took;

  test_base(path, sizeof path, "latch");
  CHECK_RC(corral_leader_latch_start(c0, path, NULL, &l0), CORRAL_RESULT_NULL_ARGUMENT);
  CHECK_RC(corral_leader_latch_start(c0, "bad", "p0", &l0), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_OK(corral_leader_latch_start(c0, path, "p0", &l0));
  CHECK_OK(corral_leader_latch_start(c1, path, "p1", &l1));
  CHECK_OK(corral_leader_latch_start(c2, path, "p2", &l2));
  CHECK_OK(corral_client_events(c2, &w2));
  CHECK_OK(corral_client_watch_latch(c2, l2, &watch));

  /* The first to join leads; the others follow and see it. */
  CHECK_OK(corral_leader_latch_wait(l0, 10000, &t0));
  CHECK(t0 > 0);
  CHECK_OK(corral_leader_latch_state(l0, &state, &token));
  CHECK(state == CORRAL_LATCH_STATE_LEADER && token == t0);
  CHECK_RC(corral_leader_latch_wait(l1, 0, &token), CORRAL_RESULT_TIMED_OUT);
  CHECK_OK(corral_leader_latch_state(l2, &state, NULL));
  CHECK(state == CORRAL_LATCH_STATE_FOLLOWER);
  CHECK_OK(corral_leader_latch_leader(l2, &leader));
  CHECK(leader != NULL && strcmp(leader, "p0") == 0);
  corral_string_free(leader);
  event = next_leadership(w2, watch, CORRAL_LATCH_STATE_FOLLOWER);
  CHECK(event.fencing_token == 0);

  /* Graceful hand-over: p0 leaves, p1 leads with a larger token. */
  CHECK_OK(corral_leader_latch_close(l0));
  CHECK_RC(corral_leader_latch_close(l0), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_RC(corral_leader_latch_state(l0, &state, NULL), CORRAL_RESULT_BAD_ARGUMENTS);
  CHECK_OK(corral_leader_latch_wait(l1, 10000, &t1));
  CHECK(t1 > t0);
  CHECK_OK(corral_leader_latch_leader(l2, &leader));
  CHECK(leader != NULL && strcmp(leader, "p1") == 0);
  corral_string_free(leader);

  /* The leader's connection is cut without closing its session: p2
   * leads once the session expires. */
  clock_gettime(CLOCK_MONOTONIC, &cut);
  CHECK_OK(corral_client_detach(c1));
  CHECK_OK(corral_leader_latch_wait(l2, 3 * SESSION_TIMEOUT_MS, &t2));
  took = elapsed_ms(&cut);
  printf("test_latch: new leader %lld ms after the old one was cut off (session timeout %d ms)\n",
         took, SESSION_TIMEOUT_MS);
  CHECK(t2 > t1);
  event = next_leadership(w2, watch, CORRAL_LATCH_STATE_LEADER);
  CHECK(event.fencing_token == t2);

  CHECK_OK(corral_leader_latch_close(l2));
  event = next_leadership(w2, watch, CORRAL_LATCH_STATE_CLOSED);
  CHECK(event.fencing_token == 0);
  corral_leader_latch_free(l0);
  corral_leader_latch_free(l1);
  corral_leader_latch_free(l2);
  corral_leader_latch_free(NULL);
  corral_watcher_free(w2);
  CHECK_OK(corral_client_close(c0));
  CHECK_OK(corral_client_close(c2));
  corral_client_free(c0);
  corral_client_free(c1);
  corral_client_free(c2);
  printf("test_latch: %d checks passed\n", (int)checks_passed);
  return 0;
}
