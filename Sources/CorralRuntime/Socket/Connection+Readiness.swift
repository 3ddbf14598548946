internal import CCorral
import Glibc

/// The epoll side of a connection: readiness events, reads with recv(2), flushes with
/// sendmsg(2)/sendfile(2) at once.
extension Connection {
    /// Registered once, edge-triggered, for both directions, and never modified: pausing reads
    /// or waiting for room to write costs no epoll_ctl call, and a ready connection is not
    /// re-polled by every epoll_wait as level-triggered registrations are. The price is that
    /// an edge must not be lost: input is read until the socket is drained (a short read), and
    /// whatever cannot be done now (a paused read, the rest of a long flush) is resumed by a
    /// task on the loop rather than by waiting for an edge that will not come.
    static var interest: Interest { Epoll.readable | Epoll.writable | Epoll.readHangup | Epoll.edgeTriggered }

    package func handle(events: UInt32) {
        switch phase {
        case .closed:
            return
        case .connecting:
            guard events & (Epoll.writable | Epoll.error | Epoll.hangup) != 0 else { return }
            finishConnect()
            guard phase == .open else { return }
        case .open, .lingering:
            break
        }
        if events & (Epoll.readable | Epoll.readHangup | Epoll.hangup | Epoll.error) != 0 {
            inputArrived(peerShutDown: events & (Epoll.readHangup | Epoll.hangup | Epoll.error) != 0)
            if phase == .lingering {
                discardInput()
                return
            }
            if canRead && readState.hasInput {
                readAvailable()
            } else if events & (Epoll.hangup | Epoll.error) != 0 && writeState != .waitingForRoom {
                // Both directions are gone and nothing is reading or writing: close now (the
                // edge will not be repeated).
                close(reason: pendingSocketError().map(CloseReason.failed) ?? .closed)
                return
            }
        }
        if phase == .open && events & Epoll.writable != 0 && writeState == .waitingForRoom {
            flush()
        }
    }

    /// The first read of a `readAtOnce` connection, then its registration (if it is still open).
    func readFirstThenRegister() {
        if phase == .open {
            inputArrived(peerShutDown: false)
            if canRead { readAvailable() }
        }
        guard phase != .closed else { return }
        do {
            token = try loop.register(self, fd: fd, interest: Connection.interest)
        } catch {
            close(reason: .failed(error))
        }
    }

    /// One recv(2) into `target`: the byte count (0 at EOF), or nil when the socket is drained
    /// (reading waits for the next edge) or the read failed (the connection is closed). recv,
    /// not read(2): it skips the VFS layer, about 70 ns a call here.
    private func readOnce(into target: UnsafeMutableRawBufferPointer) -> Int? {
        let result: IOResult<Int>
        do {
            result = try Posix.recv(fd, target, flags: 0)
        } catch {
            close(reason: .failed(error))
            return nil
        }
        guard case .processed(let count) = result else {
            readState = .waiting
            return nil
        }
        return count
    }

    private func inputArrived(peerShutDown: Bool) {
        switch readState {
        case .ended, .availableUntilEOF: break
        case .waiting, .available: readState = peerShutDown ? .availableUntilEOF : .available
        }
    }

    /// Reads what is there and hands it to the handler: until the socket is drained, or four
    /// reads (for fairness: the rest continues on the next loop turn).
    func readAvailable() {
        var reads = 0
        while canRead && readState.hasInput {
            if reads == 4 {
                queueContinuation()
                return
            }
            reads += 1
            var target: UnsafeMutableRawBufferPointer
            if input.isEmpty {
                target = loop.readBuffer
            } else {
                target = input.spare(atLeast: min(Self.inputGrowth, maxReadSize))
            }
            if target.count > maxReadSize { target = UnsafeMutableRawBufferPointer(rebasing: target[..<maxReadSize]) }
            guard let count = readOnce(into: target) else { return }
            if count == 0 {
                readState = .ended
                handler?.connectionDidReadEOF(self)
                return
            }
            // A short read emptied the receive queue (stream sockets return what is there);
            // new data will raise a new edge, so no EAGAIN read is needed to re-arm.
            if count < target.count && readState == .available { readState = .waiting }
            deliver(read: UnsafeRawBufferPointer(rebasing: target[..<count]))
        }
    }

    /// Free space made for each read into the connection's own buffer (when a partial request
    /// is kept there): enough for a typical request, doubling when more is needed.
    static var inputGrowth: Int { 16 * 1024 }

    /// Sends what is queued now: sendmsg(2) and sendfile(2) until done or the socket is full.
    func flushNow() {
        let result: OutboundQueue<SocketSink>.FlushResult
        do {
            result = try output.flush(
                iovecs: loop.iovecs, iovecCapacity: loop.iovecCapacity,
                beforeFIN: isTCP && afterFlush.sendsFIN && !readState.hasInput)
        } catch {
            close(reason: .failed(error))
            return
        }
        switch result {
        case .done:
            flushCompleted(late: writeState == .waitingForRoom || writeState == .yielded)
        case .wouldBlock:
            // The kernel raises an EPOLLOUT edge when room appears.
            writeState = .waitingForRoom
            checkLowWatermark()
        case .yielded:
            // Still writable, so no edge will come: continue on the next loop turn.
            writeState = .yielded
            queueContinuation()
            checkLowWatermark()
        }
    }

    /// Lingering: reads and drops input until EOF (then closes), until the kernel has no more,
    /// or until the byte limit (then closes, accepting that a reset may follow).
    func discardInput() {
        var reads = 0
        while phase == .lingering && readState.hasInput {
            if reads == 4 {
                queueContinuation()
                return
            }
            reads += 1
            guard let count = readOnce(into: loop.readBuffer) else { return }
            if count == 0 {
                readState = .ended
                close(reason: .closed)
                return
            }
            lingerDiscarded += count
            if lingerDiscarded > lingerLimit {
                close(reason: .closed)
                return
            }
            if count < loop.readBuffer.count && readState == .available { readState = .waiting }
        }
    }
}
