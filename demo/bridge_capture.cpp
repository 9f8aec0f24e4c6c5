#include "demo/bridge_capture.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>

#include "audit/session/session.hpp"

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

    audit::SessionConfig cfg;
    audit::LiveOptions live;
    live.interface = iface;
    live.drop_to_user = std::nullopt;
    cfg.live = std::move(live);
    audit::Session session(std::move(cfg), std::cout, std::cerr);
    if (!session.open()) return signal_ready(session.start_error());
    signal_ready("");
    session.run(&st->stop);  // until stop(): Interrupted, after the kernel's packets are drained
    CaptureResult& out = st->result;
    out.records = session.take_records();
    out.summary = session.summary();
    if (session.source_error()) out.error = *session.source_error();
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
