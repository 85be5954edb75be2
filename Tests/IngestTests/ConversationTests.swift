import Observations
import Testing
@testable import Ingest

private func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: 1_772_442_000 + seconds) }

@Test func hitsLessThanTheIdleTimeApartFoldIntoOneConversation() {
    var conversations = Conversations<String, Int>(idleSeconds: 120)
    var closed: [Conversations<String, Int>.Folded] = []
    for (index, second) in [0, 60, 180, 301, 302].enumerated() {
        closed += conversations.add("a", time: at(Int64(second)), bytes: 100, value: { index })
    }
    closed += conversations.closeAll()
    // 60 → 180 is exactly the idle time (joins); 180 → 301 is one second more (splits).
    #expect(closed.map(\.value) == [0, 3])
    #expect(closed.map(\.packets) == [3, 2])
    #expect(closed.map(\.bytes) == [300, 200])
    #expect(closed.map(\.first) == [at(0), at(301)])
    #expect(closed.map(\.last) == [at(180), at(302)])
}

@Test func keysAreFoldedApartAndOpenConversationsStayBounded() {
    var conversations = Conversations<Int, Int>(idleSeconds: 120, maximumOpen: 8)
    var closed: [Conversations<Int, Int>.Folded] = []
    for key in 0..<100 {
        closed += conversations.add(key, time: at(Int64(key)), bytes: 1, value: { key })
    }
    closed += conversations.closeAll()
    #expect(closed.count == 100, "every key is its own conversation, none lost")
    #expect(Set(closed.map(\.value)) == Set(0..<100))
}

/// Conversations that begin with the same packet (its source and its destination both
/// listed) close in the order they were opened, whatever order the dictionary holds
/// them in: the stored order of the sightings is then the same from run to run.
@Test func conversationsOpenedAtTheSameTimeCloseInTheOrderTheyWereOpened() {
    var conversations = Conversations<String, Int>(idleSeconds: 120)
    let keys = (0..<200).map { "key \($0)" }
    var closed: [Conversations<String, Int>.Folded] = []
    for (index, key) in keys.enumerated() {
        closed += conversations.add(key, time: at(0), bytes: 1, value: { index })
    }
    closed += conversations.closeAll()
    #expect(closed.map(\.value) == Array(0..<200))
}
