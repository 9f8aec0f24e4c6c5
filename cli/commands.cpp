#include "cli/commands.hpp"

#include <exception>
#include <iostream>
#include <set>

#include "cli/compliance_commands.hpp"
#include "provision/provision_cli.hpp"

namespace meshproof::cli {

namespace {
const char* kUsage = R"(usage: meshproof COMMAND [options]

demo:
  demo [--output DIR]        before/after on real traffic: pods in namespaces, plaintext, then mTLS sidecars, diffed (root)
  play PLAYBOOK.yaml         run a scenario: lab/provision/audit/assert/diff/report steps (docs/playbooks.md)
audit:
  audit read FILE|DIR...     classify every TCP flow of pcap/pcapng captures (plaintext, TLS, mTLS, Istio mTLS)
  audit capture -i IFACE     the same, on live traffic (--duration, --write evidence.pcap, --push, --metrics-file)
  audit serve -i IFACE       continuous audit; findings as Prometheus metrics on /metrics
compliance (docs/compliance.md):
  keygen --out DIR           Ed25519 key pair for signing evidence bundles (audit read --bundle)
  verify BUNDLE [--pub KEY]  check an evidence bundle's signature and every member
provision (helm + kubectl from a lab spec; docs/lab-spec.md):
  init | plan | up | down | status
other:
  version                    print the version
Run 'meshproof COMMAND --help' for a command's options.
)";
}  // namespace

int run(const std::vector<std::string>& args) {
    try {
        if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
            std::cout << kUsage;
            return args.empty() ? kExitUsage : kExitOk;
        }
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        if (args[0] == "audit") return audit_main(rest);
        if (args[0] == "demo") return demo_main(rest);
        if (args[0] == "play") return play_main(rest);
        if (args[0] == "keygen") return keygen_main(rest);
        if (args[0] == "verify") return verify_main(rest);
        static const std::set<std::string> provision_commands = {"init", "plan", "up", "down", "status"};
        if (provision_commands.count(args[0])) return provision::run_provision_command(args, std::cout, std::cerr);
        if (args[0] == "version" || args[0] == "--version") {
            std::cout << "meshproof " << MESHPROOF_VERSION << "\n";
            return kExitOk;
        }
        throw UsageError("unknown command '" + args[0] + "'\n" + kUsage);
    } catch (const UsageError& e) {
        std::cerr << "meshproof: " << e.what() << "\n";
        return kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "meshproof: " << e.what() << "\n";
        return kExitFailure;
    }
}

int run(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    return run(args);
}

}  // namespace meshproof::cli
