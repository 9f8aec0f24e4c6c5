#include "provision/provision_cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "provision/engine.hpp"

namespace meshproof::provision {

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) {
    g_interrupted.store(true);
    // A second Ctrl-C ends meshproof at once.
    ::signal(SIGINT, SIG_DFL);
}

// SIGINT sets g_interrupted while a mutating command runs; the previous handler comes back after.
class SigintScope {
public:
    SigintScope() {
        g_interrupted.store(false);
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(SIGINT, &sa, &old_);
    }
    ~SigintScope() { ::sigaction(SIGINT, &old_, nullptr); }
    SigintScope(const SigintScope&) = delete;
    SigintScope& operator=(const SigintScope&) = delete;

private:
    struct sigaction old_ {};
};

struct FlagSpec {
    std::string_view name;
    int values;  // how many arguments follow
    std::string_view verbs;  // space-separated commands that take it
};

constexpr FlagSpec kFlags[] = {
    {"-f", 1, "init plan up down status"},       {"--file", 1, "init plan up down status"},
    {"--json", 0, "plan status"},                       {"--yes", 0, "up down"},
    {"-y", 0, "up down"},                        {"--purge", 0, "down"},
    {"--output", 2, "plan"},                     {"--state-dir", 1, "plan up down status"},
    {"--kube-context", 1, "plan up down status"}, {"--offline", 0, "plan"},
    {"--force", 0, "init"},
};

bool verb_takes(const FlagSpec& f, std::string_view verb) {
    std::string_view v = f.verbs;
    while (!v.empty()) {
        const auto sp = v.find(' ');
        if (v.substr(0, sp) == verb) return true;
        if (sp == std::string_view::npos) break;
        v.remove_prefix(sp + 1);
    }
    return false;
}

}  // namespace

std::string provision_usage() {
    return "meshproof init [-f lab.yaml] [--force]            write a commented lab spec\n"
           "meshproof plan [-f lab.yaml] [--json] [--offline] [--kube-context NAME]\n"
           "               [--output helmfile DIR]             show (or export) the steps\n"
           "meshproof up [-f lab.yaml] [--yes] [--kube-context NAME] [--state-dir DIR]\n"
           "                                                   install or resume, idempotent\n"
           "meshproof status [-f lab.yaml] [--json] [--kube-context NAME]\n"
           "                                                   health, IPs, URLs, warnings\n"
           "meshproof down [-f lab.yaml] [--yes] [--purge]     remove in reverse order (CRDs kept unless --purge)\n"
           "exit codes: 0 ok, 1 failure, 2 usage or validation error, 3 state directory or journal unusable,\n"
           "            130 interrupted\n";
}

int run_provision_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                          const ProvisionEnvironment& env) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        (args.empty() ? err : out) << provision_usage();
        return args.empty() ? kExitUsage : kExitOk;
    }
    CommandOptions opts;
    opts.verb = args[0];
    static const std::vector<std::string_view> verbs = {"init", "plan", "up", "down", "status"};
    if (std::find(verbs.begin(), verbs.end(), opts.verb) == verbs.end()) {
        err << "unknown command '" << opts.verb << "'";
        if (auto near = nearest_key(opts.verb, verbs); !near.empty()) err << " (did you mean '" << near << "'?)";
        err << "\n" << provision_usage();
        return kExitUsage;
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string arg = args[i];
        std::string inline_value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            if (const auto eq = arg.find('='); eq != std::string::npos) {
                inline_value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
                has_inline = true;
            }
        }
        if (arg == "-h" || arg == "--help") {
            out << provision_usage();
            return kExitOk;
        }
        const FlagSpec* spec = nullptr;
        for (const auto& f : kFlags) {
            if (f.name == arg) spec = &f;
        }
        if (spec == nullptr) {
            std::vector<std::string_view> names;
            for (const auto& f : kFlags) {
                if (verb_takes(f, opts.verb)) names.push_back(f.name);
            }
            err << opts.verb << ": unknown flag '" << arg << "'";
            if (auto near = nearest_key(arg, names); !near.empty()) err << " (did you mean '" << near << "'?)";
            err << "\n";
            return kExitUsage;
        }
        if (!verb_takes(*spec, opts.verb)) {
            err << opts.verb << ": " << arg << " does not apply to this command\n";
            return kExitUsage;
        }
        std::vector<std::string> values;
        if (has_inline) values.push_back(inline_value);
        while (static_cast<int>(values.size()) < spec->values) {
            if (i + 1 >= args.size()) {
                err << opts.verb << ": " << arg << " needs " << (spec->values == 2 ? "two values" : "a value") << "\n";
                return kExitUsage;
            }
            values.push_back(args[++i]);
        }
        if (spec->values == 0 && has_inline) {
            err << opts.verb << ": " << arg << " takes no value\n";
            return kExitUsage;
        }
        if (arg == "-f" || arg == "--file") opts.file = values[0];
        else if (arg == "--json") opts.json = true;
        else if (arg == "--yes" || arg == "-y") opts.yes = true;
        else if (arg == "--purge") opts.purge = true;
        else if (arg == "--output") {
            opts.output_format = values[0];
            opts.output_dir = values[1];
        } else if (arg == "--state-dir") opts.state_dir = values[0];
        else if (arg == "--kube-context") opts.kube_context = values[0];
        else if (arg == "--offline") opts.offline = true;
        else if (arg == "--force") opts.force = true;
    }
    if (opts.json && !opts.output_format.empty()) {
        err << "plan: --json and --output are exclusive\n";
        return kExitUsage;
    }

    std::unique_ptr<Runner> own_runner;
    std::unique_ptr<Prober> own_prober;
    std::optional<SigintScope> sigint;
    const std::atomic<bool>* interrupt = env.interrupt;
    if (interrupt == nullptr && (opts.verb == "up" || opts.verb == "down")) {
        sigint.emplace();
        interrupt = &g_interrupted;
    }
    Runner* runner = env.runner;
    if (runner == nullptr) {
        own_runner = make_process_runner(interrupt);
        runner = own_runner.get();
    }
    Prober* prober = env.prober;
    if (prober == nullptr) {
        own_prober = make_http_prober();
        prober = own_prober.get();
    }
    SleepFn sleep = env.sleep ? env.sleep : SleepFn([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); });
    std::istream* in = env.in;
    bool interactive = env.interactive;
    if (in == nullptr && ::isatty(STDIN_FILENO) == 1) {
        in = &std::cin;
        interactive = true;
    }
    Session session{*runner,          *prober,   out, err,         env.retry,           sleep,
                    env.poll_interval, interrupt, in,  interactive, env.step_timeout_cap};

    if (opts.verb == "init") return cmd_init(opts, session);
    if (opts.verb == "plan") return cmd_plan(opts, session);
    if (opts.verb == "up") return cmd_up(opts, session);
    if (opts.verb == "down") return cmd_down(opts, session);
    return cmd_status(opts, session);
}

int run_provision_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    return run_provision_command(args, out, err, ProvisionEnvironment{});
}

}  // namespace meshproof::provision
