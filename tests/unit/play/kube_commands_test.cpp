// The kubectl argv of apply, wait and restart steps (what the runner runs and --dry-run shows).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "play/kube_commands.hpp"

using namespace meshproof::play;
using namespace std::chrono_literals;
using Argv = std::vector<std::string>;

TEST_CASE("apply and delete") {
    ApplyStep a;
    a.namespace_name = "shop";
    a.timeout = 90s;
    auto cmd = apply_command(a, "kind: Namespace\n", "");
    CHECK(cmd.argv == Argv{"kubectl", "apply", "--server-side", "--field-manager=meshproof-play", "--force-conflicts",
                           "--namespace", "shop", "-f", "-"});
    REQUIRE(cmd.stdin_text);
    CHECK(*cmd.stdin_text == "kind: Namespace\n");
    CHECK(cmd.timeout == 90s);

    a.remove = true;
    a.namespace_name.clear();
    cmd = apply_command(a, "x", "lab-ctx");
    CHECK(cmd.argv == Argv{"kubectl", "delete", "--ignore-not-found", "-f", "-", "--context", "lab-ctx"});
}

TEST_CASE("wait: rollout and condition; the child outlives kubectl's own timeout") {
    WaitStep w;
    w.kind = WaitStep::Kind::Rollout;
    w.resource = "deployment/web";
    w.namespace_name = "shop";
    w.timeout = 3min;
    auto cmd = wait_command(w, "");
    CHECK(cmd.argv == Argv{"kubectl", "rollout", "status", "deployment/web", "--namespace", "shop", "--timeout=180s"});
    CHECK(cmd.timeout == 210s);

    w.kind = WaitStep::Kind::Condition;
    w.resource = "pods";
    w.condition = "Ready";
    w.selector = "app=web";
    w.timeout = 1500ms;  // rounded up: kubectl takes whole seconds
    cmd = wait_command(w, "c");
    CHECK(cmd.argv == Argv{"kubectl", "wait", "--for=condition=Ready", "pods", "--selector", "app=web", "--namespace", "shop",
                           "--timeout=2s", "--context", "c"});
}

TEST_CASE("restart") {
    RestartStep r;
    r.resources = {"deployment/a", "statefulset/b"};
    r.namespace_name = "shop";
    CHECK(restart_command(r, "").argv ==
          Argv{"kubectl", "rollout", "restart", "deployment/a", "statefulset/b", "--namespace", "shop"});
    CHECK(display(restart_command(r, "")) == "kubectl rollout restart deployment/a statefulset/b --namespace shop");
}

TEST_CASE("manifest text: files joined as YAML documents, or the inline manifest") {
    char tmpl[] = "/tmp/meshproof-play-manifests-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    const std::string dir = d;
    std::ofstream(dir + "/a.yaml") << "kind: A";  // no final newline
    std::ofstream(dir + "/b.yaml") << "kind: B\n";
    ApplyStep a;
    a.files = {dir + "/a.yaml", dir + "/b.yaml"};
    auto text = manifest_text(a);
    REQUIRE(text);
    CHECK(*text == "kind: A\n---\nkind: B\n");
    a.files.push_back(dir + "/missing.yaml");
    text = manifest_text(a);
    REQUIRE_FALSE(text);
    CHECK(text.error() == "cannot read " + dir + "/missing.yaml");
    ApplyStep inline_step;
    inline_step.inline_manifest = "kind: C\n";
    CHECK(manifest_text(inline_step).value() == "kind: C\n");
    std::filesystem::remove_all(dir);
}
