import ByteParsing
import Foundation
import Observations
import Testing
@testable import LogReading

/// One address per line, so that each line's time shows in the observations.
func yearLog(_ stamps: [String]) -> [UInt8] {
    Array(stamps.enumerated().map { "\($1) host sshd[1]: from 192.0.2.\($0 + 1)\n" }.joined().utf8)
}

func times(_ seen: [Seen]) -> [String] { seen.map(\.time.iso8601) }

@Test func givenYearIsKeptAndDecemberRollsOverToJanuary() throws {
    let log = yearLog(["Nov 30 23:00:00", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  1 00:00:00", "Mar  1 10:00:00"])
    let seen = try Fixture.observe(log, options: LogReadingOptions(year: 2023))
    #expect(times(seen) == [
        "2023-11-30T23:00:00Z", "2023-12-31T23:59:59Z", "2024-01-01T00:00:01Z", "2024-01-01T00:00:00Z",
        "2024-03-01T10:00:00Z",
    ])
}

@Test func aSmallStepBackIsNotARollover() throws {
    // Lines slightly out of order (April after June) stay in the same year.
    let seen = try Fixture.observe(yearLog(["Jun  1 00:00:00", "Apr  1 00:00:00"]), options: LogReadingOptions(year: 2022))
    #expect(times(seen) == ["2022-06-01T00:00:00Z", "2022-04-01T00:00:00Z"])
}

@Test(arguments: [
    // (first line, hint, expected year of the first line)
    ("Mar  1 10:00:00", "2024-03-05T00:00:00Z", "2024"),  // before the hint: the hint's year
    ("Mar 20 10:00:00", "2024-03-05T00:00:00Z", "2023"),  // after the hint: the year before
    ("Mar  5 20:00:00", "2024-03-05T00:00:00Z", "2024"),  // within a day: time zones
    ("Dec 30 10:00:00", "2024-01-02T00:00:00Z", "2023"),
])
func yearIsInferredFromTheHint(first: String, hint: String, year: String) throws {
    var options = LogReadingOptions(year: 1999)
    let hintTime: Timestamp = try #require(Timestamp(iso8601: hint))
    options.yearHint = hintTime
    let seen = try Fixture.observe(yearLog([first]), options: options)
    #expect(times(seen).first?.hasPrefix(year) == true, "\(times(seen))")
}

@Test func hintedYearRollsOverToo() throws {
    var options = LogReadingOptions(year: 1999)
    options.yearHint = Timestamp(iso8601: "2024-01-02T08:00:00Z")
    let seen = try Fixture.observe(yearLog(["Dec 31 23:00:00", "Jan  1 01:00:00"]), options: options)
    #expect(times(seen) == ["2023-12-31T23:00:00Z", "2024-01-01T01:00:00Z"])
}

@Test func offsetAppliesToZonelessFormatsOnly() throws {
    var options = LogReadingOptions(year: 2024)
    options.utcOffsetSeconds = 3600
    let log = Array("""
        Mar  5 10:00:00 host sshd[1]: from 192.0.2.1
        2024-03-05T10:00:00+00:00 host sshd[1]: from 192.0.2.2
        <13>1 2024-03-05T10:00:00Z host app - - - from 192.0.2.3
        [Tue Mar 05 10:00:00 2024] [error] [client 192.0.2.4] denied
        2024-03-05 10:00:00,500 - INFO from 192.0.2.5
        no header from 192.0.2.6

        """.utf8)
    let seen = try Fixture.observe(log, options: options)
    #expect(times(seen) == [
        "2024-03-05T09:00:00Z", "2024-03-05T10:00:00Z", "2024-03-05T10:00:00Z", "2024-03-05T09:00:00Z",
        "2024-03-05T09:00:00.500000Z", "2024-03-05T09:00:00.500000Z",
    ])
}

/// A year inferred from the file's time is said in the read's notes, with how often it
/// went up after, on both read paths; a year given says nothing.
@Test func anInferredYearIsNoted() throws {
    let log = yearLog(["Dec 30 10:00:00", "Jan  1 01:00:00", "Aug  1 00:00:00", "Jan  2 00:00:00"])
    let path = try Fixture.temporaryFile(log)
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = LogReadingOptions(year: 1999)
    options.yearHint = Timestamp(iso8601: "2024-01-02T08:00:00Z")
    let expected = "RFC 3164 times carry no year: the first was taken to be in 2023, the latest year that does not "
        + "put it after the file's modification time (2024-01-02T08:00:00Z); then the year went up 2 times, where "
        + "the month went back by more than six months (as from December to January); give the year (--year) if "
        + "that is wrong"
    func notes(_ options: LogReadingOptions, threads: Int?) throws -> [String] {
        let reader = LogReader(file: try InputFile(path: path), compressed: false, options: options)
        guard let threads else { return reader.read(observe: { _ in }, progress: { _ in }).notes }
        return reader.read(
            scanningThreads: threads, passes: { _ in true }, observe: { _ in }, observedTimes: { _, _ in },
            wantsLines: false, line: { _ in }, progress: { _ in }
        ).notes
    }
    #expect(try notes(options, threads: nil) == [expected])
    #expect(try notes(options, threads: 1) == [expected])
    #expect(try notes(LogReadingOptions(year: 2023), threads: nil) == [])
    #expect(try notes(LogReadingOptions(year: 2023), threads: 1) == [])
    // No RFC 3164 line: nothing was inferred.
    let stamped = try Fixture.temporaryFile(Array("2024-03-05T10:00:00Z host sshd[1]: from 192.0.2.1\n".utf8))
    defer { try? FileManager.default.removeItem(atPath: stamped) }
    let reader = LogReader(file: try InputFile(path: stamped), compressed: false, options: options)
    #expect(reader.read(observe: { _ in }, progress: { _ in }).notes == [])
}

/// Reads `text` as a log with the year inferred (modification time `hint`), or given.
private func timesAndNotes(_ text: String, hint: String? = "2024-01-10T00:00:00Z", year: Int = 1999) throws
    -> (times: [String], notes: [String])
{
    let path = try Fixture.temporaryFile(Array(text.utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = LogReadingOptions(year: year)
    options.yearHint = hint.flatMap { Timestamp(iso8601: $0) }
    let reader = LogReader(file: try InputFile(path: path), compressed: false, options: options)
    var seen: [Seen] = []
    let summary = reader.read(observe: { seen.append(Seen($0)) }, progress: { _ in })
    return (times(seen), summary.notes)
}

/// An RFC 3164 line after a line with a full date takes the year that puts it nearest
/// that date, not the one the file's modification time suggests.
@Test func theYearComesFromAnEarlierFullDate() throws {
    let (times, notes) = try timesAndNotes("""
        2019-06-01T10:00:00Z host sshd[1]: from 192.0.2.1
        Jun  2 10:00:00 host sshd[1]: from 192.0.2.2
        Jun  3 10:00:00 host sshd[1]: from 192.0.2.3

        """)
    #expect(times == ["2019-06-01T10:00:00Z", "2019-06-02T10:00:00Z", "2019-06-03T10:00:00Z"])
    #expect(notes == ["RFC 3164 times carry no year: the first was taken to be in 2019, the year that puts it "
                      + "nearest the full date of an earlier line (2019-06-01T10:00:00Z); give the year (--year) "
                      + "if that is wrong"])
    // Across a new year: the nearest is the year before the full date's.
    let (newYear, _) = try timesAndNotes("""
        2020-01-01T00:10:00Z host sshd[1]: from 192.0.2.1
        Dec 31 23:50:00 host sshd[1]: from 192.0.2.2

        """)
    #expect(newYear == ["2020-01-01T00:10:00Z", "2019-12-31T23:50:00Z"])
}

/// A full date later in the file moves the year of the RFC 3164 lines after it, and the
/// note counts it; a JSON record's time counts as a full date.
@Test func aLaterFullDateMovesTheYear() throws {
    let (times, notes) = try timesAndNotes("""
        Jun  1 10:00:00 host sshd[1]: from 192.0.2.1
        {"ts":1614556800.0,"id.orig_h":"192.0.2.2"}
        Mar  2 10:00:00 host sshd[1]: from 192.0.2.3

        """)
    // The first from the modification time (2023: June 2024 would be after it), then 2021.
    #expect(times == ["2023-06-01T10:00:00Z", "2021-03-01T00:00:00Z", "2021-03-02T10:00:00Z"])
    #expect(notes.count == 1)
    #expect(notes.first?.contains("the latest year that does not put it after the file's modification time") == true)
    #expect(notes.first?.contains("; a later line's full date changed it once;") == true, "\(notes)")
}

/// A given year is kept: full dates in the file do not move it.
@Test func aGivenYearIgnoresFullDates() throws {
    let (times, notes) = try timesAndNotes("""
        2019-06-01T10:00:00Z host sshd[1]: from 192.0.2.1
        Jun  2 10:00:00 host sshd[1]: from 192.0.2.2

        """, hint: nil, year: 2023)
    #expect(times == ["2019-06-01T10:00:00Z", "2023-06-02T10:00:00Z"])
    #expect(notes.isEmpty)
}
