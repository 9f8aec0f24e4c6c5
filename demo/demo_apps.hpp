// The demo's workloads: a web backend, the frontend that calls it, and a Redis-protocol store the
// backend queries. One Python 3 script (standard library only) embedded in meshproof and written
// into the demo's work directory at run time, so the installed binary needs no data files.
#pragma once

#include <string_view>

namespace meshproof::demo {

// The secrets the apps exchange. They are fake but distinctive, so a test can grep every output
// file for them: none may appear unless --show-secrets.
inline constexpr std::string_view kDemoBearerToken = "mpdemo-bearer-7Hq2vK9xRw4Lp8Zt";
inline constexpr std::string_view kDemoPassword = "mpdemo-Passw0rd-n3Xv8QeT";
inline constexpr std::string_view kDemoDbPassword = "mpdemo-redis-Kd83Jf0WqY";
inline constexpr std::string_view kDemoSessionCookie = "mpdemo-session-4c9e1b7a2f6d";

// Modes (argv[1]):
//   db      --bind IP --port P                     RESP server: AUTH, PING, GET, QUIT
//   backend --bind IP --port P --db IP:PORT        HTTP/1.1: POST /login (form), GET /api/orders
//                                                  (Bearer token; one Redis connection per call)
//   client  --url http://IP:PORT --host NAME --rounds N
//            one keep-alive connection per round: POST /login, then GET /api/orders with the token
//            and the session cookie; exit 0 and "ok: ..." when every answer was right
// Secrets come from the environment: MPDEMO_TOKEN, MPDEMO_PASSWORD, MPDEMO_DB_PASSWORD, MPDEMO_SESSION.
std::string_view demo_apps_python();

}  // namespace meshproof::demo
