// `meshproof up`: preflight, then every step of the plan not already done (journal), with a progress
// line per step; an unchanged lab gets read-only checks only and "up to date".
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "provision/engine.hpp"
#include "provision/journal.hpp"
#include "provision/manifests.hpp"
#include "provision/tls_cert.hpp"
#include "provision/yaml_util.hpp"

namespace meshproof::provision {

namespace {

using Clock = std::chrono::steady_clock;

struct StepOutcome {
    bool ok = false;
    bool interrupted = false;
    std::string message;  // multi-line failure description
};

std::string argv_value(const std::vector<std::string>& argv, std::string_view flag) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == flag) return argv[i + 1];
    }
    return {};
}

// What the user should know and do after a failed command, beyond "run up again".
std::string failure_hints(const Step& step, const CommandResult& r, int attempts) {
    const bool helm = !step.argv.empty() && step.argv[0] == "helm";
    std::string h;
    if (r.timed_out) {
        h += "the command did not finish in time: the API server or the nodes may be slow or unreachable; check with\n"
             "  kubectl get --raw='/readyz?verbose'   and   kubectl get nodes\n";
        if (step.release)
            h += "  (helm --wait also waits for the release's pods: kubectl get pods --namespace " +
                 step.release->namespace_name + ")\n";
    } else if (r.term_signal != 0 && !r.interrupted) {
        h += step.argv.empty() ? std::string() : step.argv[0];
        h += " was killed before it finished (out of memory? a kill -9?)";
        if (helm && step.release)
            h += ": the release may be left pending-install or pending-upgrade, which blocks every later upgrade;\n"
                 "the next `meshproof up` finds that (helm list) and clears it (helm rollback, or helm uninstall then "
                 "install) before retrying";
        h += "\n";
    } else if (!r.ok() && !r.interrupted && !r.spawn_failed) {
        const std::string reason = api_error_reason(r);
        if (attempts > 1) {
            h += "the API server kept failing with transient errors: check it (kubectl get --raw='/readyz?verbose'),\n"
                 "then run `meshproof up` again\n";
        } else if (!reason.empty() && !is_transient_failure(r)) {
            h += "not retried: the API server answered " + reason + ", which a retry does not fix\n";
        }
    }
    return h;
}

std::string seconds_text(double secs) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0fs", secs);
    return buf;
}

// "exit status 1; Error: INSTALLATION FAILED: ..." from a multi-line failure description.
std::string journal_summary(const std::string& message) {
    std::string out;
    std::size_t pos = 0;
    int taken = 0;
    while (pos < message.size() && taken < 2) {
        const auto nl = message.find('\n', pos);
        std::string line = message.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? message.size() : nl + 1;
        while (!line.empty() && line.front() == ' ') line.erase(0, 1);
        if (line.empty() || line.rfind("command: ", 0) == 0 || line.find("(last lines):") != std::string::npos) continue;
        out += (out.empty() ? "" : "; ") + line;
        ++taken;
    }
    return out;
}

class Executor {
public:
    Executor(Session& s, const Lab& lab) : s_(s), lab_(lab) {}

    std::string gateway_ip;
    std::map<std::string, std::string, std::less<>> secrets;

    StepOutcome run(const Step& step) {
        switch (step.kind) {
            case StepKind::Command: return run_command_step(step);
            case StepKind::WaitIp: return run_wait_ip(step);
            case StepKind::Probe:
                return run_probe(step, std::chrono::duration_cast<std::chrono::seconds>(s_.capped(step.timeout)), true);
        }
        return {};
    }

    // Loads (or makes) the gateway certificate when the plan applies it.
    tl::expected<void, std::string> prepare_secrets() {
        const Step* tls = lab_.plan.find("ingress-tls");
        if (tls == nullptr || !secrets.empty()) return {};
        std::vector<std::string> hosts;
        for (const auto* a : {&lab_.spec.addons.kiali, &lab_.spec.addons.prometheus, &lab_.spec.addons.grafana}) {
            if (a->enabled && !a->host.empty()) hosts.push_back(a->host);
        }
        auto material = load_or_make_cert(lab_.state_dir, hosts);
        if (!material) return tl::unexpected("gateway certificate: " + material.error());
        secrets["TLS_CRT_B64"] = base64_encode(material->cert_pem);
        secrets["TLS_KEY_B64"] = base64_encode(material->key_pem);
        return {};
    }

    StepOutcome run_probe(const Step& step, std::chrono::seconds timeout, bool wait) {
        StepOutcome o;
        const ProbeSpec& p = *step.probe;
        if (gateway_ip.empty()) {
            std::string why;
            gateway_ip = gateway_address(s_, lab_.plan, &why);
            if (gateway_ip.empty()) {
                o.message = "the gateway Service " + p.service_namespace + "/" + p.service_name +
                            " has no LoadBalancer address: " + why + "\n";
                return o;
            }
        }
        const auto deadline = Clock::now() + timeout;
        std::string last_error;
        while (true) {
            if (s_.interrupted()) {
                o.interrupted = true;
                o.message = "interrupted (Ctrl-C)\n";
                return o;
            }
            const auto r = s_.prober.http_get(gateway_ip, p.port, p.host_header, p.path, std::chrono::seconds(5));
            if (r.answered && (p.expect_status == 0 || r.status == p.expect_status)) {
                o.ok = true;
                return o;
            }
            last_error = r.answered ? "HTTP " + std::to_string(r.status) : r.error;
            if (!wait || Clock::now() >= deadline) break;
            sleep_sliced(s_.poll_interval);
        }
        o.message = "http://" + gateway_ip + ":" + std::to_string(p.port) + p.path +
                    (p.host_header.empty() ? "" : " (Host: " + p.host_header + ")") + " did not answer" +
                    (p.expect_status ? " " + std::to_string(p.expect_status) : "") + ": " + last_error + "\n";
        if (p.port == 15021)
            o.message += "MetalLB assigned " + gateway_ip +
                         " but nothing answers there: is the pool on the nodes' LAN, is there an L2Advertisement "
                         "(and the right interfaces), is a firewall in the way?\n";
        return o;
    }

private:
    void sleep_sliced(std::chrono::milliseconds d) {
        const auto until = Clock::now() + d;
        while (!s_.interrupted() && Clock::now() < until) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
            s_.sleep(std::min(left, std::chrono::milliseconds(100)));
        }
    }

    StepOutcome run_command_step(const Step& step) {
        StepOutcome o;
        std::optional<std::string> input;
        if (step.stdin_text) input = fill_secrets(*step.stdin_text, secrets);
        auto on_retry = [this](int attempt, std::chrono::milliseconds delay, const CommandResult& r) {
            s_.out << "transient error (" << first_line(r.err.empty() ? r.out : r.err) << "), retry " << attempt + 1
                   << "/" << s_.retry.max_attempts << " in " << seconds_text(static_cast<double>(delay.count()) / 1000.0)
                   << " ... " << std::flush;
        };
        auto r = run_command(s_, step.argv, input, step.timeout, step.id, on_retry);
        if (r.result.ok()) {
            o.ok = true;
            return o;
        }
        o.interrupted = r.result.interrupted;
        o.message = describe_failure(Command{step.argv, std::nullopt, s_.capped(step.timeout), {}}, r.result);
        if (r.attempts > 1)
            o.message += "(gave up after " + std::to_string(r.attempts) + " attempts with transient errors)\n";
        o.message += failure_hints(step, r.result, r.attempts);
        return o;
    }

public:
    // A release left pending-* by a helm that never finished: roll back to the last good revision
    // (pending-upgrade/-rollback), else uninstall it (pending-install: nothing to go back to), the way
    // helm users clear "another operation (install/upgrade/rollback) is in progress".
    StepOutcome repair_release(const Step& step, const std::string& status) {
        StepOutcome o;
        const HelmRelease& rel = *step.release;
        std::vector<std::string> argv;
        std::string action;
        if (status == "pending-upgrade" || status == "pending-rollback") {
            auto h = run_command(s_, with_context({"helm", "history", rel.name, "--namespace", rel.namespace_name, "-o", "json"},
                                                  lab_.plan),
                                 std::nullopt, std::chrono::seconds(60), step.id);
            auto node = h.result.ok() ? detail::parse_json(h.result.out) : tl::expected<YAML::Node, std::string>();
            long current = 0;
            long good = 0;
            if (node && node->IsSequence()) {
                for (const auto& item : *node) {
                    const long rev = std::strtol(detail::scalar_at(item, {"revision"}).c_str(), nullptr, 10);
                    const std::string st = detail::scalar_at(item, {"status"});
                    current = std::max(current, rev);
                    if ((st == "deployed" || st == "superseded") && rev > good) good = rev;
                }
            }
            if (good > 0 && good < current) {
                argv = {"helm", "rollback", rel.name, std::to_string(good), "--namespace", rel.namespace_name, "--wait"};
                if (const auto t = argv_value(step.argv, "--timeout"); !t.empty()) argv.insert(argv.end(), {"--timeout", t});
                action = "rolling it back to revision " + std::to_string(good);
            }
        }
        if (argv.empty()) {
            argv = {"helm", "uninstall", rel.name, "--namespace", rel.namespace_name, "--wait"};
            action = "uninstalling it";
        }
        argv = with_context(std::move(argv), lab_.plan);
        s_.out << "repair: release " << rel.name << " in " << rel.namespace_name << " is " << status
               << " (a helm killed or interrupted mid-operation leaves it so, and helm refuses to upgrade it): " << action
               << ", then installing\n";
        auto r = run_command(s_, argv, std::nullopt, step.timeout, step.id);
        if (r.result.ok()) {
            o.ok = true;
            return o;
        }
        o.interrupted = r.result.interrupted;
        o.message = describe_failure(Command{argv, std::nullopt, s_.capped(step.timeout), {}}, r.result) +
                    "clear it by hand (helm history " + rel.name + " --namespace " + rel.namespace_name +
                    "; helm rollback or helm uninstall), then run `meshproof up` again\n";
        return o;
    }

private:

    StepOutcome run_wait_ip(const Step& step) {
        StepOutcome o;
        const auto deadline = Clock::now() + s_.capped(step.timeout);
        while (true) {
            if (s_.interrupted()) {
                o.interrupted = true;
                o.message = "interrupted (Ctrl-C)\n";
                return o;
            }
            auto r = run_command(s_, step.argv, std::nullopt, std::chrono::seconds(30), step.id);
            if (r.result.interrupted) {
                o.interrupted = true;
                o.message = "interrupted (Ctrl-C)\n";
                return o;
            }
            if (!r.result.ok()) {
                o.message = describe_failure(Command{step.argv, std::nullopt, std::chrono::seconds(30), {}}, r.result);
                return o;
            }
            auto node = detail::parse_json(r.result.out);
            if (node) {
                const YAML::Node& svc = *node;
                const YAML::Node ingress = detail::at(svc, {"status", "loadBalancer", "ingress"});
                if (ingress && ingress.IsSequence() && ingress.size() > 0) {
                    std::string ip = detail::scalar_at(ingress[0], {"ip"});
                    if (ip.empty()) ip = detail::scalar_at(ingress[0], {"hostname"});
                    if (!ip.empty()) {
                        gateway_ip = ip;
                        o.ok = true;
                        return o;
                    }
                }
            }
            if (Clock::now() >= deadline) break;
            sleep_sliced(s_.poll_interval);
        }
        o.message = "the gateway Service got no LoadBalancer address within " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s_.capped(step.timeout)).count()) +
                    "s.\nMetalLB assigns one from the IPAddressPool: check the pool (kubectl -n metallb-system get "
                    "ipaddresspools), that it has free addresses, and the controller's log (kubectl -n metallb-system "
                    "logs deploy/metallb-controller).\n";
        return o;
    }

    Session& s_;
    const Lab& lab_;
};

// Read-only verification of steps the journal says are done. Returns step index -> why it drifted.
std::vector<std::pair<std::size_t, std::string>> check_done_steps(Session& s, const Lab& lab, Executor& exec,
                                                                  const std::vector<ReleaseInfo>& releases) {
    std::vector<std::pair<std::size_t, std::string>> drift;
    std::optional<YAML::Node> repos;
    const auto& steps = lab.plan.steps;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const Step& st = steps[i];
        switch (st.check) {
            case CheckKind::None: break;
            case CheckKind::RepoPresent: {
                if (!repos) {
                    auto r = run_command(s, {"helm", "repo", "list", "-o", "json"}, std::nullopt, std::chrono::seconds(30));
                    auto node = r.result.ok() ? detail::parse_json(r.result.out) : tl::expected<YAML::Node, std::string>();
                    repos = node ? *node : YAML::Node();
                }
                bool found = false;
                if (repos->IsSequence()) {
                    for (const auto& item : *repos) {
                        if (detail::scalar_at(item, {"name"}) == st.repo_name && detail::scalar_at(item, {"url"}) == st.repo_url)
                            found = true;
                    }
                }
                if (!found) drift.emplace_back(i, "helm repository " + st.repo_name + " is missing");
                break;
            }
            case CheckKind::ReleaseDeployed: {
                const auto& want = *st.release;
                auto it = std::find_if(releases.begin(), releases.end(), [&](const ReleaseInfo& r) {
                    return r.name == want.name && r.namespace_name == want.namespace_name;
                });
                if (it == releases.end())
                    drift.emplace_back(i, "release " + want.name + " is not installed");
                else if (it->status != "deployed")
                    drift.emplace_back(i, "release " + want.name + " is " + it->status);
                else if (it->chart != chart_label(want))
                    drift.emplace_back(i, "release " + want.name + " runs " + it->chart + ", not " + chart_label(want));
                break;
            }
            case CheckKind::ObjectsExist: {
                std::vector<std::string> argv = {"kubectl", "get"};
                if (!st.apply_namespace.empty()) argv.insert(argv.end(), {"--namespace", st.apply_namespace});
                argv.insert(argv.end(), {"-f", "-", "-o", "name"});
                argv = with_context(std::move(argv), lab.plan);
                auto r = run_command(s, argv, redact_secrets(st.stdin_text.value_or("")), std::chrono::seconds(60), st.id);
                if (!r.result.ok())
                    drift.emplace_back(i, "objects missing: " + first_line(r.result.err.empty() ? r.result.out : r.result.err));
                break;
            }
            case CheckKind::GatewayIp: {
                std::string why;
                exec.gateway_ip = gateway_address(s, lab.plan, &why);
                if (exec.gateway_ip.empty()) drift.emplace_back(i, "the gateway has no LoadBalancer address (" + why + ")");
                break;
            }
            case CheckKind::Probe: {
                auto o = exec.run_probe(st, std::chrono::seconds(5), false);
                if (!o.ok) drift.emplace_back(i, first_line(o.message));
                break;
            }
        }
    }
    return drift;
}

}  // namespace



int cmd_up(const CommandOptions& opts, Session& outer) {
    auto lab_or = load_lab(opts, outer);
    if (!lab_or) return lab_or.error();
    const Lab& lab = *lab_or;
    // Before anything runs: a journal we cannot write would lose track of what we changed.
    if (auto ok = check_state_dir_writable(lab.state_dir); !ok) {
        outer.err << "state directory: " << ok.error()
                  << "\nnothing was changed; meshproof up records its progress there: make it writable, or choose "
                     "another with --state-dir DIR or MESHPROOF_STATE_DIR\n";
        return kExitLocalState;
    }
    CommandLog log(lab.state_dir + "/meshproof.log");
    LoggingRunner logging(outer.runner, log);
    Session s{logging,         outer.prober, outer.out, outer.err,         outer.retry,      outer.sleep,
              outer.poll_interval, outer.interrupt, outer.in, outer.interactive, outer.timeout_cap};
    log.write("\n##### meshproof up, lab " + lab.spec.name + ", " + utc_now_iso8601() + "\n");
    s.out << "lab " << lab.spec.name << " (" << lab.spec.source << "): " << lab.plan.steps.size()
          << " steps; state and log in " << lab.state_dir << "\n";

    auto journal_or = load_journal(lab.state_dir);
    if (!journal_or) {
        s.err << "journal: " << journal_or.error() << "\n" << journal_recovery_hint(lab.state_dir);
        return kExitLocalState;
    }
    Journal& journal = *journal_or;

    const PreflightResult pf = preflight(s, lab, false);
    if (pf.exit_code != kExitOk) return pf.exit_code;

    const auto& steps = lab.plan.steps;
    if (!journal.kube_context.empty() && journal.kube_context != pf.context) {
        s.out << "journal: written for context " << journal.kube_context << ", now " << pf.context << ": starting over\n";
        journal.steps.clear();
    }
    std::vector<bool> done(steps.size(), false);
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto it = journal.steps.find(steps[i].id);
        done[i] = it != journal.steps.end() && it->second.status == StepStatus::Done &&
                  it->second.fingerprint == step_fingerprint(steps[i]);
    }
    for (const auto& [id, status] : pf.stuck) {
        const Step* st = lab.plan.find(id);
        s.out << "preflight: release " << st->release->name << " in " << st->release->namespace_name << " is " << status
              << ": an earlier helm did not finish; " << id << " clears it and runs again\n";
    }
    for (const auto& id : pf.existing) {
        const auto it = journal.steps.find(id);
        if (it == journal.steps.end() || it->second.status != StepStatus::Done) {
            const Step* st = lab.plan.find(id);
            s.out << "preflight: adopting the existing release " << st->release->name << " in "
                  << st->release->namespace_name << " (helm upgrade takes it over)\n";
        }
    }
    Executor exec(s, lab);
    const bool all_done = std::all_of(done.begin(), done.end(), [](bool d) { return d; });
    if (all_done) {
        s.out << "journal: all " << steps.size() << " steps done for this spec; checking the cluster (read-only)\n";
        const auto drift = check_done_steps(s, lab, exec, pf.releases);
        if (drift.empty()) {
            s.out << "up to date\n";
            print_lab_summary(s, lab, exec.gateway_ip);
            return kExitOk;
        }
        for (const auto& [i, why] : drift) {
            s.out << "drift: " << steps[i].id << ": " << why << "\n";
            done[i] = false;
        }
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (pf.stuck.count(steps[i].id) != 0) done[i] = false;
    }
    // Waits and probes after the first step that runs are re-run: they are what verifies the result.
    const auto first = static_cast<std::size_t>(std::find(done.begin(), done.end(), false) - done.begin());
    for (std::size_t i = first; i < steps.size(); ++i) {
        if (steps[i].kind != StepKind::Command) done[i] = false;
    }
    const auto to_run = static_cast<std::size_t>(std::count(done.begin(), done.end(), false));
    if (to_run < steps.size() && !all_done)
        s.out << "resuming: " << steps.size() - to_run << " of " << steps.size() << " steps done earlier; starting at "
              << steps[first].id << "\n";

    if (!opts.yes) {
        std::string list;
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (!done[i]) list += (list.empty() ? "" : ", ") + steps[i].id;
        }
        s.out << "to run: " << list << "\n(see them in full with `meshproof plan`)\n";
    }
    if (!confirm(s, opts.yes, "apply " + std::to_string(to_run) + " steps to context " + pf.context + "?"))
        return opts.yes || s.interactive ? kExitFailure : kExitUsage;

    if (auto ok = exec.prepare_secrets(); !ok) {
        s.err << ok.error() << "\n";
        return kExitFailure;
    }
    journal.lab = lab.spec.name;
    journal.kube_context = pf.context;
    journal.spec_hash = plan_hash(lab.plan);
    journal.state = "running";
    journal.updated_at = utc_now_iso8601();
    if (auto ok = save_journal(lab.state_dir, journal); !ok) {
        s.err << "journal: " << ok.error() << "\nnothing was changed\n";
        return kExitLocalState;
    }

    const std::string total = std::to_string(steps.size());
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const Step& step = steps[i];
        const std::string prefix = "[" + std::to_string(i + 1) + "/" + total + "] " + step.id + " ... ";
        if (done[i]) {
            s.out << prefix << "done earlier\n";
            continue;
        }
        const auto start = Clock::now();
        StepOutcome o{true, false, {}};
        if (const auto stuck = pf.stuck.find(step.id); stuck != pf.stuck.end() && !s.interrupted())
            o = exec.repair_release(step, stuck->second);
        s.out << prefix << std::flush;
        if (o.ok) o = s.interrupted() ? StepOutcome{false, true, "interrupted (Ctrl-C)\n"} : exec.run(step);
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        StepRecord rec;
        rec.fingerprint = step_fingerprint(step);
        rec.seconds = secs;
        rec.finished_at = utc_now_iso8601();
        if (o.ok) {
            s.out << seconds_text(secs) << "\n";
            rec.status = StepStatus::Done;
            journal.steps[step.id] = rec;
            journal.updated_at = rec.finished_at;
            if (auto ok = save_journal(lab.state_dir, journal); !ok) {
                // Going on would change the cluster without a record; everything done so far is idempotent.
                s.err << "journal: " << ok.error() << "\nstopped after " << step.id
                      << ": progress can no longer be recorded. Fix the state directory, then run `meshproof up` "
                         "again (it re-checks what is installed)\n";
                return kExitLocalState;
            }
            continue;
        }
        s.out << (o.interrupted ? "interrupted" : "FAILED") << " after " << seconds_text(secs) << "\n";
        s.err << "step " << step.id << " (" << step.title << ") " << (o.interrupted ? "was interrupted" : "failed") << ":\n"
              << o.message;
        rec.status = o.interrupted ? StepStatus::Interrupted : StepStatus::Failed;
        rec.message = journal_summary(o.message);
        journal.steps[step.id] = rec;
        journal.state = o.interrupted ? "interrupted" : "failed";
        journal.updated_at = rec.finished_at;
        if (auto ok = save_journal(lab.state_dir, journal); !ok) s.err << "warning: journal: " << ok.error() << "\n";
        s.err << "full output: " << log.path() << "\n"
              << "run `meshproof up` again to resume at " << step.id << "\n";
        log.write("##### " + journal.state + " at " + step.id + "\n");
        return o.interrupted ? kExitInterrupted : kExitFailure;
    }
    journal.state = "complete";
    journal.updated_at = utc_now_iso8601();
    if (auto ok = save_journal(lab.state_dir, journal); !ok) s.err << "warning: journal: " << ok.error() << "\n";
    log.write("##### complete\n");
    s.out << "done: " << to_run << " of " << steps.size() << " steps run\n";
    print_lab_summary(s, lab, exec.gateway_ip);
    return kExitOk;
}

void print_lab_summary(Session& s, const Lab& lab, const std::string& gateway_ip) {
    if (!gateway_ip.empty()) s.out << "gateway: " << gateway_ip << "\n";
    const auto urls = exposed_urls(lab.spec);
    std::string hosts;
    for (const auto& u : urls) {
        s.out << "  " << u.addon << ": " << u.url << "\n";
        const auto start = u.url.find("://") + 3;
        const auto end = u.url.find_first_of(":/", start);
        hosts += " " + u.url.substr(start, end - start);
    }
    if (!gateway_ip.empty() && !hosts.empty())
        s.out << "  (resolve the names to the gateway, e.g. in /etc/hosts: " << gateway_ip << hosts << ")\n";
    if (lab.spec.addons.kiali.enabled && lab.spec.addons.kiali_auth == KialiAuth::Token)
        s.out << "  kiali login token: kubectl -n istio-system create token kiali\n";
}

}  // namespace meshproof::provision
