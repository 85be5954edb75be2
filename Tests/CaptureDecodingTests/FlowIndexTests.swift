@testable import CaptureDecoding
import Observations
import Testing
import TestSupport

/// The flow table's own hash index against `Dictionary` as the model: every lookup
/// agrees after every insert, update and removal, across growth and removal chains.
struct FlowIndexTests {
    private func key(_ number: Int, ipv6: Bool = false) -> StreamKey? {
        let port = UInt16(truncatingIfNeeded: number)
        if ipv6 {
            let source = IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64(number / 7))
            let destination = IPv6Address(high: 0x2001_0db8_0000_0001, low: 1)
            return StreamKey(source: .ipv6(source), destination: .ipv6(destination), sourcePort: port, destinationPort: 443)
        }
        let source = IPv4Address(0x0A00_0000 | UInt32(number / 5))
        return StreamKey(source: .ipv4(source), destination: .ipv4(IPv4Address(0xC000_0201)), sourcePort: port, destinationPort: 80)
    }

    @Test(arguments: [1, 7, 42])
    func agreesWithADictionaryThroughInsertsAndRemovals(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var index = FlowIndex()
        var model: [Int: Int] = [:]
        // Keys 0..<3000 (a third IPv6), so that the index grows past its first 1,024
        // positions and removals meet long runs. After each step, the key touched and
        // a random one are checked; every 500 steps, all of them.
        func agrees(_ number: Int) throws -> Bool {
            index[try #require(key(number, ipv6: number % 3 == 0))] == model[number]
        }
        for step in 0..<20_000 {
            let number = Int(random.next() % 3_000)
            let candidate = try #require(key(number, ipv6: number % 3 == 0))
            if random.next() % 3 < 2 {
                index[candidate] = step
                model[number] = step
            } else {
                index[candidate] = nil
                model[number] = nil
            }
            let other = Int(random.next() % 3_000)
            #expect(try agrees(number) && agrees(other), "keys \(number), \(other) after step \(step)")
            if step % 500 == 0 {
                let wrong = try (0..<3_000).filter { try !agrees($0) }
                #expect(wrong.isEmpty, "keys \(wrong.prefix(5)) after step \(step)")
            }
        }
        #expect(index.count == model.count)
        // Removing everything leaves it empty and still usable.
        for number in model.keys { index[try #require(key(number, ipv6: number % 3 == 0))] = nil }
        #expect(index.count == 0)
        let five = try #require(key(5))
        index[five] = 9
        #expect(index[five] == 9 && index[five.reversed] == nil)
    }
}
