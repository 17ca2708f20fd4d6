// C++17 compile test of include/corral.h (g++ -std=c++17 -Wall -Wextra
// -Werror -pedantic): the header is usable from C++ (extern "C", the
// int32_t result type, the enums, the structs) without warnings.
#include "corral.h"

#include <cstdint>
#include <type_traits>

static_assert(sizeof(corral_result) == sizeof(std::int32_t), "corral_result is an int32_t");
static_assert(CORRAL_RESULT_NO_NODE == -101, "ZooKeeper's codes keep their numbers");
static_assert(std::is_standard_layout<corral_event>::value, "corral_event is a C struct");

int use_the_header(const char *hosts) {
  corral_client *client = nullptr;
  corral_result rc = corral_client_connect(hosts, 0, nullptr, nullptr, nullptr, &client);
  if (rc != CORRAL_RESULT_OK) {
    return static_cast<int>(rc);
  }
  corral_stat stat{};
  bool exists = false;
  rc = corral_client_exists(client, "/", &exists, &stat);
  corral_event event{};
  corral_event_clear(&event);
  corral_client_free(client);
  return static_cast<int>(rc) + static_cast<int>(CORRAL_CREATE_MODE_EPHEMERAL) +
         static_cast<int>(CORRAL_EVENT_KIND_WATCH) + (corral_version() != nullptr);
}
