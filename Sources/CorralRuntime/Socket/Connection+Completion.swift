internal import CCorral
import Glibc
import SystemPackage

/// The io_uring side of a connection (`EventLoopBackend.uring`): a multishot receive reads
/// into the loop's provided buffers for as long as the connection reads, a flush becomes one
/// send request submitted with the loop turn's others, and a full socket is waited for with a
/// one-shot POLLOUT request.
extension Connection {
    package func complete(_ operation: RingOperation, result: Int32, flags: UInt32, bytes: UnsafeRawBufferPointer) {
        switch operation {
        case .receive:
            received(result, more: flags & CompletionRing.moreFlag != 0, bytes)
        case .send, .quietSend:
            sent(Int(result))
        case .writable:
            writableArmed = false
            if phase == .open && writeState == .waitingForRoom && result >= 0 { queueSend() }
        case .connected:
            guard phase == .connecting, result >= 0 else { return }
            finishConnect()
            if phase == .open { startReceiving() }
        default:
            break
        }
    }

    // MARK: reading

    /// Arms the multishot receive, unless one is armed (or being cancelled: its last completion
    /// re-arms it if reading is wanted by then).
    func startReceiving() {
        guard let ring, let token, receive == .idle, phase == .open || phase == .lingering, readState != .ended else {
            return
        }
        do {
            try ring.receive(fd: fd, token: token)
            receive = .armed
        } catch {
            close(reason: .failed(error))
        }
    }

    /// Cancels the receive, so that input stays in the kernel (TCP flow control slows the peer).
    private func stopReceiving() {
        guard let ring, let token, receive == .armed else { return }
        do {
            try ring.cancel(request: token.userData(.receive))
            receive = .cancelling
        } catch {
            close(reason: .failed(error))
        }
    }

    private func received(_ result: Int32, more: Bool, _ bytes: UnsafeRawBufferPointer) {
        if !more { receive = .idle }
        switch phase {
        case .closed, .connecting:
            return
        case .lingering:
            discard(result)
            return
        case .open:
            break
        }
        if result > 0 {
            if canRead {
                if input.isEmpty {
                    deliver(read: bytes)
                } else {
                    // A partial message waits in `input`: the new bytes go after it.
                    let spare = input.spare(atLeast: bytes.count)
                    spare.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    deliver(read: UnsafeRawBufferPointer(rebasing: spare[..<bytes.count]))
                }
            } else if !afterFlush.stopsReading {
                // Reading is paused (by the handler, or back-pressure) but this was already
                // read: keep it for when reading resumes, and stop the receive.
                // Not held against `maxBufferedInput`: the multishot receive goes on until the
                // cancellation lands (at most what the loop's provided buffers hold), and these
                // bytes were read on the connection's behalf, not left unconsumed by its handler.
                input.append(bytes)
                stopReceiving()
            }
            // else: the connection closes once its output is sent; nothing more is read.
        } else if result == 0 {
            readState = .ended
            // Input read before the EOF and not yet consumed goes to the handler first.
            if input.isEmpty { handler?.connectionDidReadEOF(self) } else { eofPending = true }
            return
        } else {
            switch -result {
            case ENOBUFS, ECANCELED:
                break  // out of buffers (re-armed below, they are back by then), or paused
            default:
                close(reason: .failed(SystemError("recv", errno: Errno(rawValue: -result))))
                return
            }
        }
        // The kernel ended the receive (ENOBUFS, a cancellation that reading has since
        // outlived): arm it again if reading is wanted.
        if receive == .idle && phase == .open && canRead { startReceiving() }
    }

    /// Lingering: drops what arrives until EOF or the byte limit, then closes.
    private func discard(_ result: Int32) {
        if result > 0 {
            lingerDiscarded += Int(result)
            if lingerDiscarded > lingerLimit { close(reason: .closed) }
        } else if result == 0 {
            readState = .ended
            close(reason: .closed)
            return
        } else if result != -ENOBUFS && result != -ECANCELED {
            close(reason: .closed)
            return
        }
        if receive == .idle && phase == .lingering { startReceiving() }
    }

    // MARK: writing

    /// flush() on uring: the send goes with the loop's next submission.
    func requestSend(on ring: CompletionRing) {
        switch writeState {
        case .idle, .yielded:
            if output.isEmpty {
                flushCompleted(late: writeState == .yielded)
            } else {
                queueSend()
            }
        case .sendQueued, .sending, .waitingForRoom, .shutDown:
            break  // a send is coming, or the socket's room is awaited
        }
    }

    private func queueSend() {
        writeState = .sendQueued
        ring!.queueSend(self)
    }

    /// Called by the ring just before it submits: turns what is queued into one send request.
    /// File regions at the front go out with sendfile(2) here (the page cache to the socket,
    /// no copy), bytes after them in the request.
    func prepareSend(on ring: CompletionRing) {
        guard phase == .open, writeState == .sendQueued, let token else { return }
        if output.startsWithFile {
            let result: OutboundQueue<SocketSink>.FlushResult
            do {
                result = try output.sendLeadingFiles(maxSyscalls: 16)
            } catch {
                close(reason: .failed(error))
                return
            }
            switch result {
            case .done:
                if output.isEmpty {
                    flushCompleted(late: true)
                    return
                }
            case .wouldBlock:
                waitForRoom(on: ring, token: token)
                checkLowWatermark()
                return
            case .yielded:
                writeState = .yielded  // a loop task flushes again (other connections go first)
                flushWaited = true
                queueContinuation()
                checkLowWatermark()
                return
            }
        }
        do {
            let scratch = try ring.sendScratch()
            let gathered = output.gather(into: scratch.iovecs, capacity: scratch.capacity)
            preparedBytes = gathered.bytes
            try ring.send(self, token: token, count: gathered.count,
                          more: gathered.followedByFile || sendPrecedesFIN(gathered.bytes), quiet: sendIsQuiet(gathered.bytes))
            writeState = .sending
        } catch {
            close(reason: .failed(error))
        }
    }

    /// Whether a send of `bytes` ends the output and a FIN follows it (close, or shutdown with
    /// or without lingering): its last bytes then wait (MSG_MORE) and go out in the FIN's
    /// segment, as on epoll (`OutboundQueue.flush(beforeFIN:)`). Before a plain close only while
    /// the multishot receive is armed, draining the socket as input arrives: input left unread
    /// in the kernel would make close(2) reset the connection and drop the held bytes.
    private func sendPrecedesFIN(_ bytes: Int) -> Bool {
        guard isTCP && afterFlush.sendsFIN && bytes == output.pendingBytes else { return false }
        if case .close = afterFlush { return receive == .armed }
        return true
    }

    /// Whether a send of `bytes` that goes out in full needs no reaction before the loop sleeps:
    /// it empties the queue, nothing follows the last byte (close, shutdown), the queue is under
    /// its watermark, and the flush did not have to wait (nor was its end asked for).
    private func sendIsQuiet(_ bytes: Int) -> Bool {
        guard case .nothing = afterFlush else { return false }
        return bytes == output.pendingBytes && isWritable && !flushWaited
    }

    /// A quiet send posted nothing: it sent everything (`CompletionRing.settleQuietSends`).
    func quietSendSettled() {
        sent(preparedBytes)
    }

    /// The send completed while it was being submitted: how much the kernel took.
    private func sent(_ result: Int) {
        guard phase == .open, writeState == .sending, let ring, let token else { return }
        if result < 0 {
            if result == -EAGAIN {
                waitForRoom(on: ring, token: token)
            } else {
                close(reason: .failed(SystemError("send", errno: Errno(rawValue: CInt(-result)))))
            }
            return
        }
        output.consume(result)
        if result < preparedBytes {
            waitForRoom(on: ring, token: token)  // the socket's buffer is full
            checkLowWatermark()
        } else if output.isEmpty {
            flushCompleted(late: true)
        } else {
            queueSend()  // more was queued meanwhile, or a file region or IOV_MAX pieces follow
            checkLowWatermark()
        }
    }

    private func waitForRoom(on ring: CompletionRing, token: RegistrationToken) {
        writeState = .waitingForRoom
        flushWaited = true
        guard !writableArmed else { return }
        do {
            try ring.whenWritable(fd: fd, token: token, as: .writable)
            writableArmed = true
        } catch {
            close(reason: .failed(error))
        }
    }
}
