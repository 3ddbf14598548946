import Glibc
import SystemPackage
import Testing
@testable import CorralRuntime
import CorralTestSupport

@Suite struct BackendAvailabilityTests {
    @Test(.enabled(if: EventLoopBackend.uringUnavailableReason == nil,
                   Comment(rawValue: EventLoopBackend.uringUnavailableReason ?? "")),
          .enabled(if: getenv("CORRAL_TEST_BACKENDS") == nil, "CORRAL_TEST_BACKENDS chooses the backends"))
    func uringIsTestedWhereAvailable() throws {
        #expect(testedBackends.contains(.uring))
        let group = try EventLoopGroup(loopCount: 1, backend: .uring)
        try group.start()
        #expect(group.backend == .uring && group.backendNote == nil)
        group.shutdown()
    }

    @Test func aGroupAskedForUringWhereItIsRefusedSaysWhyAndUsesEpoll() throws {
        for errno in [Errno.noFunction, .notPermitted] {
            let group = try EventLoopGroup(
                loopCount: 1, pinToCPUs: false, backend: .uring, logger: .init(label: "test"), uringFailure: errno)
            try group.start()
            #expect(group.backend == .epoll)
            #expect(group.backendNote?.hasPrefix("io_uring unavailable: ") == true)
            group.shutdown()
        }
    }
}
