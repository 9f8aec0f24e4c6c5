// `meshproof down`: the plan's undo actions in reverse order. Releases that own CRDs (istio-base,
// metallb) and the namespaces stay unless --purge; anything already gone counts as done.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "provision/engine.hpp"
#include "provision/journal.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

namespace {

using Clock = std::chrono::steady_clock;

bool already_gone(const CommandResult& r) {
    std::string text = r.err + "\n" + r.out;
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const char* needle : {"not found", "no matches for kind", "ensure crds are installed first",
                               "the server doesn't have a resource type"}) {
        if (text.find(needle) != std::string::npos) return true;
    }
    return false;
}

struct DownAction {
    std::string step;
    std::string what;
    std::vector<std::string> argv;
    std::optional<std::string> stdin_text;
    bool purge_crds = false;  // computed at run time: every *.istio.io / *.metallb.io CRD
};

std::string describe(const std::vector<std::string>& argv) {
    if (argv.size() >= 3 && argv[0] == "helm" && argv[1] == "uninstall") return "helm uninstall " + argv[2];
    if (argv.size() >= 2 && argv[0] == "kubectl") {
        if (argv[1] == "label" && argv.size() >= 5) return "unlabel namespace " + argv[3];
        if (argv[1] == "delete" && argv.size() >= 3 && argv[2] == "namespace") return "delete namespace " + argv[3];
        if (argv[1] == "delete") return "delete objects";
    }
    return argv.empty() ? std::string() : argv[0];
}

}  // namespace

int cmd_down(const CommandOptions& opts, Session& outer) {
    auto lab_or = load_lab(opts, outer, false);
    if (!lab_or) return lab_or.error();
    const Lab& lab = *lab_or;
    if (auto ok = check_state_dir_writable(lab.state_dir); !ok) {
        outer.err << "state directory: " << ok.error()
                  << "\nnothing was changed; meshproof down resets the journal there: make it writable, or choose "
                     "another with --state-dir DIR\n";
        return kExitLocalState;
    }
    CommandLog log(lab.state_dir + "/meshproof.log");
    LoggingRunner logging(outer.runner, log);
    Session s{logging,         outer.prober, outer.out, outer.err,         outer.retry,      outer.sleep,
              outer.poll_interval, outer.interrupt, outer.in, outer.interactive, outer.timeout_cap};
    log.write("\n##### meshproof down" + std::string(opts.purge ? " --purge" : "") + ", lab " + lab.spec.name + ", " +
              utc_now_iso8601() + "\n");

    auto journal_or = load_journal(lab.state_dir);
    Journal journal = journal_or ? *journal_or : Journal{};

    const PreflightResult pf = preflight(s, lab, true);
    if (pf.exit_code != kExitOk) return pf.exit_code;

    std::vector<DownAction> actions;
    std::vector<std::string> kept;
    for (auto it = lab.plan.steps.rbegin(); it != lab.plan.steps.rend(); ++it) {
        for (const auto& u : it->undo) {
            if (u.purge_only && !opts.purge) {
                if (!u.kept_note.empty()) kept.push_back(u.kept_note);
                continue;
            }
            actions.push_back({it->id, describe(u.argv), u.argv, u.stdin_text, false});
        }
    }
    if (opts.purge) {
        DownAction crds{"purge", "delete the Istio and MetalLB CRDs", {}, std::nullopt, true};
        actions.push_back(crds);
        actions.push_back({"purge", "delete namespace istio-system",
                           with_context({"kubectl", "delete", "namespace", "istio-system", "--ignore-not-found", "--wait=false"},
                                        lab.plan),
                           std::nullopt, false});
    }

    if (!confirm(s, opts.yes,
                 "remove lab " + lab.spec.name + " from context " + pf.context + " (" + std::to_string(actions.size()) +
                     " actions" + (opts.purge ? ", CRDs and namespaces included" : ", CRDs kept") + ")?"))
        return opts.yes || s.interactive ? kExitFailure : kExitUsage;

    const std::string total = std::to_string(actions.size());
    for (std::size_t i = 0; i < actions.size(); ++i) {
        const auto& a = actions[i];
        s.out << "[" << i + 1 << "/" << total << "] " << a.step << ": " << a.what << " ... " << std::flush;
        const auto start = Clock::now();
        std::vector<std::string> argv = a.argv;
        if (a.purge_crds) {
            auto r = run_command(s, with_context({"kubectl", "get", "crd", "-o", "json"}, lab.plan), std::nullopt,
                                 std::chrono::seconds(60), "purge");
            std::vector<std::string> names;
            if (r.result.ok()) {
                if (auto node = detail::parse_json(r.result.out)) {
                    for (const auto& item : detail::at(*node, {"items"})) {
                        const std::string n = detail::scalar_at(item, {"metadata", "name"});
                        auto ends = [&](std::string_view suffix) {
                            return n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
                        };
                        if (ends(".istio.io") || ends(".metallb.io")) names.push_back(n);
                    }
                }
            }
            if (names.empty()) {
                s.out << "none left\n";
                continue;
            }
            argv = {"kubectl", "delete", "crd", "--ignore-not-found"};
            argv.insert(argv.end(), names.begin(), names.end());
            argv = with_context(std::move(argv), lab.plan);
        }
        if (s.interrupted()) {
            s.out << "interrupted\n";
            journal.state = "interrupted";
            (void)save_journal(lab.state_dir, journal);
            return kExitInterrupted;
        }
        auto r = run_command(s, argv, a.stdin_text, std::chrono::seconds(lab.spec.helm_timeout_seconds + 60), a.step);
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0fs", secs);
        if (r.result.ok()) {
            s.out << buf << "\n";
            continue;
        }
        if (!r.result.interrupted && !r.result.timed_out && already_gone(r.result)) {
            s.out << "already gone\n";
            continue;
        }
        s.out << (r.result.interrupted ? "interrupted" : "FAILED") << " after " << buf << "\n";
        s.err << describe_failure(Command{argv, std::nullopt, std::chrono::seconds(lab.spec.helm_timeout_seconds + 60), {}},
                                  r.result);
        s.err << "full output: " << log.path() << "\n";
        journal.state = r.result.interrupted ? "interrupted" : "failed";
        journal.updated_at = utc_now_iso8601();
        (void)save_journal(lab.state_dir, journal);
        return r.result.interrupted ? kExitInterrupted : kExitFailure;
    }
    for (const auto& k : kept) s.out << "kept: " << k << "\n";
    // Nothing of the lab is left as the journal knew it: the next `up` runs every step.
    journal.steps.clear();
    journal.spec_hash.clear();
    journal.kube_context = pf.context;
    journal.lab = lab.spec.name;
    journal.state = "down";
    journal.updated_at = utc_now_iso8601();
    if (auto ok = save_journal(lab.state_dir, journal); !ok) s.err << "warning: journal: " << ok.error() << "\n";
    if (opts.purge) {
        std::remove((lab.state_dir + "/ingress-tls.crt").c_str());
        std::remove((lab.state_dir + "/ingress-tls.key").c_str());
    }
    s.out << "down: lab " << lab.spec.name << " removed" << (opts.purge ? " (purged)" : "") << "\n";
    return kExitOk;
}

}  // namespace meshproof::provision
