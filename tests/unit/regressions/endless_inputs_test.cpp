// Inputs that never end: a lab spec or a playbook's manifest named as /dev/zero (or any endless
// device) must be refused after a bounded read, not slurped until the machine runs out of memory.
// Each case runs in a child process with a time limit and (without ASan, whose shadow memory needs
// a huge address space) a 1 GiB address-space limit, so a regression fails this test instead of
// taking the test runner down.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "play/playbook.hpp"
#include "provision/spec.hpp"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// Runs `body` in a child: true when it returned true within 5 s (and 1 GiB).
bool in_bounded_child(const std::function<bool()>& body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(5);
        if (!kAsan) {
            const rlimit lim{1u << 30, 1u << 30};
            ::setrlimit(RLIMIT_AS, &lim);
        }
        bool ok = false;
        try {
            ok = body();
        } catch (...) {
            ok = false;
        }
        ::_exit(ok ? 0 : 1);
    }
    if (pid < 0) return false;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_CASE("endless input files are refused after a bounded read") {
    SUBCASE("lab spec /dev/zero (meshproof plan -f /dev/zero)") {
        CHECK(in_bounded_child([] { return !meshproof::provision::load_spec("/dev/zero").has_value(); }));
    }
    SUBCASE("playbook apply file /dev/zero (meshproof play --dry-run)") {
        CHECK(in_bounded_child([] {
            const char* yaml =
                "apiVersion: meshproof.dev/v1alpha1\nkind: Playbook\nname: zero\nsteps:\n  - apply:\n      file: /dev/zero\n";
            return !meshproof::play::parse_playbook(yaml, "zero.yaml", "/tmp", {}).has_value();
        }));
    }
    SUBCASE("playbook lab spec /dev/zero") {
        CHECK(in_bounded_child([] {
            const char* yaml =
                "apiVersion: meshproof.dev/v1alpha1\nkind: Playbook\nname: zero\nsteps:\n  - provision:\n      spec: /dev/zero\n";
            return !meshproof::play::parse_playbook(yaml, "zero.yaml", "/tmp", {}).has_value();
        }));
    }
}
