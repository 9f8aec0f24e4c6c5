// `meshproof play FILE`: runs a playbook (docs/playbooks.md). Flags only; the work is in play/.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "cli/arg_parser.hpp"
#include "cli/commands.hpp"
#include "play/play_runner.hpp"
#include "play/playbook.hpp"

namespace meshproof::cli {

int play_main(const std::vector<std::string>& args);  // args after "play"

namespace {

std::atomic<bool> g_play_stop{false};
extern "C" void on_play_signal(int) { g_play_stop.store(true); }

const char* kPlayUsage = R"(usage: meshproof play FILE [--dry-run] [--var NAME=VALUE]... [options]

Runs a playbook: a YAML scenario of steps (provision, apply, wait, restart, lab, audit, assert,
diff, report, push), validated completely before anything runs. Every step prints a progress line;
the run ends with a summary of the asserts. The local lab and its processes are always torn down,
also on failure and on Ctrl-C. docs/playbooks.md documents the format; playbooks/ has examples.

options:
  --dry-run            validate, then show what each step would do and run (nothing runs)
  --var NAME=VALUE     override a variable declared under vars: (repeatable)
  --show-secrets       print the secrets seen in plaintext on the terminal (reports follow their
                       own showSecrets)
  -v, --verbose        every flow of every audit
  --color WHEN         auto (default), always, never
exit status: 0 every step ran and every assert passed, 1 a step failed (or preflight: root,
             tools), 2 usage or validation error (nothing ran), 3 an assert failed,
             130 interrupted
)";

bool color_wanted(const std::string& when) {
    if (when == "always") return true;
    if (when == "never") return false;
    if (when != "auto") throw UsageError("--color: expected auto, always or never");
    return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

}  // namespace

int play_main(const std::vector<std::string>& args) {
    ArgParser p(args);
    play::PlayOptions opt;
    play::VarOverrides vars;
    std::string file, color = "auto";
    try {
        while (p.more()) {
            std::string value;
            if (p.flag("-h") || p.flag("--help")) {
                std::cout << kPlayUsage;
                return kExitOk;
            }
            if (p.flag("--dry-run")) opt.dry_run = true;
            else if (p.flag("--show-secrets")) opt.show_secrets = true;
            else if (p.flag("-v") || p.flag("--verbose")) opt.verbose = true;
            else if (p.option("--color", color)) continue;
            else if (p.option("--var", value)) {
                auto kv = play::parse_var_assignment(value);
                if (!kv) throw UsageError("--var: expected NAME=VALUE, got '" + value + "'");
                vars.push_back(std::move(*kv));
            } else {
                std::string positional = p.positional();
                if (!file.empty()) throw UsageError("one playbook at a time (got " + file + " and " + positional + ")");
                file = std::move(positional);
            }
        }
        if (file.empty()) throw UsageError("which playbook? meshproof play FILE");
        opt.color = color_wanted(color);
    } catch (const UsageError& e) {
        std::cerr << "meshproof play: " << e.what() << "\n" << kPlayUsage;
        return kExitUsage;
    }

    auto pb = play::load_playbook(file, vars);
    if (!pb) {
        for (const auto& e : pb.error()) std::cerr << e.to_string() << "\n";
        std::cerr << pb.error().size() << (pb.error().size() == 1 ? " error" : " errors") << " in " << file
                  << "; nothing was run\n";
        return play::kPlayInvalid;
    }

    g_play_stop.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_play_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int {}, old_term {};
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    play::PlayEnvironment env;
    env.stop = &g_play_stop;
    const auto report = play::run_playbook(*pb, opt, std::cout, std::cerr, env);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    return report.exit_code;
}

}  // namespace meshproof::cli
