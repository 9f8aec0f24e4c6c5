#include "audit/k8s/snapshot_fetch.hpp"

namespace meshproof::audit::k8s {

namespace {

// kubectl's answer when a resource type is unknown to the API server (the CRD is not installed).
bool missing_resource_type(const provision::CommandResult& r) {
    return r.err.find("doesn't have a resource type") != std::string::npos ||
           r.err.find("the server could not find the requested resource") != std::string::npos;
}

std::string failure(const std::vector<std::string>& argv, const provision::CommandResult& r) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    std::string why;
    if (r.spawn_failed) why = "could not start it (is kubectl installed and on PATH?)";
    else if (r.timed_out) why = "timed out after " + std::to_string(r.elapsed.count()) + " ms";
    else if (r.interrupted) why = "interrupted";
    else why = "exit status " + std::to_string(r.exit_code);
    std::string err = r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    if (err.size() > 600) err = "..." + err.substr(err.size() - 600);
    return cmd + ": " + why + (err.empty() ? "" : ": " + err);
}

}  // namespace

std::vector<std::string> snapshot_command(const FetchOptions& opt, bool with_peer_authentications) {
    std::vector<std::string> argv = {opt.kubectl};
    if (!opt.context.empty()) argv.insert(argv.end(), {"--context", opt.context});
    argv.insert(argv.end(), {"get",
                             with_peer_authentications
                                 ? "pods,services,namespaces,nodes,peerauthentications.security.istio.io"
                                 : "pods,services,namespaces,nodes",
                             "--all-namespaces", "-o", "json"});
    return argv;
}

tl::expected<FetchedSnapshot, std::string> fetch_cluster_snapshot(provision::Runner& runner, const FetchOptions& opt) {
    provision::Command cmd;
    cmd.argv = snapshot_command(opt, true);
    cmd.timeout = opt.timeout;
    provision::CommandResult r = runner.run(cmd);
    bool without_pa = false;
    if (!r.ok() && !r.spawn_failed && !r.timed_out && !r.interrupted && missing_resource_type(r)) {
        cmd.argv = snapshot_command(opt, false);
        r = runner.run(cmd);
        without_pa = true;
    }
    if (!r.ok()) return tl::unexpected(failure(cmd.argv, r));
    auto parsed = parse_cluster_snapshot(r.out, "kubectl output");
    if (!parsed) return tl::unexpected(parsed.error());
    if (without_pa)
        parsed->warnings.push_back(
            "no PeerAuthentication CRD in the cluster (Istio not installed?): every workload counts as PERMISSIVE");
    return FetchedSnapshot{std::move(r.out), std::move(*parsed)};
}

}  // namespace meshproof::audit::k8s
