#include "demo/bridge_capture.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "audit/capture/live_source.hpp"
#include "audit/engine/engine.hpp"

namespace meshproof::demo {

struct BridgeCapture::State {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;          // capture active, or failed to start (start_error)
    std::string start_error;
    CaptureResult result;
};

namespace {

void capture_loop(const std::shared_ptr<BridgeCapture::State>& st, const std::string& netns, const std::string& iface) {
    auto signal_ready = [&](std::string err) {
        std::lock_guard lock(st->mu);
        st->start_error = std::move(err);
        st->ready = true;
        st->cv.notify_all();
    };
    const std::string path = "/run/netns/" + netns;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return signal_ready("cannot open " + path + ": " + std::strerror(errno));
    const int rc = setns(fd, CLONE_NEWNET);
    const int setns_errno = errno;
    close(fd);
    if (rc != 0) return signal_ready("cannot enter network namespace " + netns + ": " + std::strerror(setns_errno));

    audit::LiveOptions opt;
    opt.interface = iface;
    opt.drop_to_user = std::nullopt;
    audit::SourceError err;
    auto src = audit::LiveSource::open(opt, err);
    if (!src) return signal_ready(err.message);
    src->set_stop_flag(&st->stop);

    audit::Engine engine;
    engine.begin_input(iface, src->describe());
    signal_ready("");
    audit::RawPacket pkt;
    std::uint64_t n = 0;
    for (;;) {
        const auto status = src->next(pkt);
        if (status == audit::SourceStatus::Packet) {
            engine.on_packet(pkt);
            ++n;
        } else if (status != audit::SourceStatus::Timeout) {
            break;  // Interrupted (our stop), End, or Error
        }
    }
    const auto stats = src->stats();
    engine.end_input(n, src->error());
    engine.summary().kernel_dropped = stats.kernel_dropped;
    engine.summary().interface_dropped = stats.interface_dropped;
    engine.finish();
    CaptureResult& out = st->result;
    out.records = engine.records();
    out.summary = engine.summary();
    if (src->error()) out.error = src->error()->message;
}

}  // namespace

tl::expected<std::unique_ptr<BridgeCapture>, std::string> BridgeCapture::start(const std::string& netns,
                                                                             const std::string& interface) {
    std::unique_ptr<BridgeCapture> cap(new BridgeCapture());
    cap->state_ = std::make_shared<State>();
    auto st = cap->state_;
    cap->thread_ = std::thread([st, netns, interface] { capture_loop(st, netns, interface); });
    std::unique_lock lock(st->mu);
    st->cv.wait(lock, [&] { return st->ready; });
    if (!st->start_error.empty()) {
        std::string err = st->start_error;
        lock.unlock();
        cap->thread_.join();
        return tl::unexpected("capture on " + interface + " in " + netns + ": " + err);
    }
    return cap;
}

CaptureResult BridgeCapture::stop() {
    if (!thread_.joinable()) return {};
    state_->stop.store(true);
    thread_.join();
    return std::move(state_->result);
}

BridgeCapture::~BridgeCapture() {
    if (thread_.joinable()) {
        state_->stop.store(true);
        thread_.join();
    }
}

}  // namespace meshproof::demo
