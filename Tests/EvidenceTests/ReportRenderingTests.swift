@testable import CaseStore
import Foundation
import Observations
import Testing
@testable import Evidence

/// Decodes a PNG (8-bit RGB or RGBA, not interlaced, as Chromium writes it) with
/// Python's standard library and counts the pixels of each colour asked for.
private let pixelCounter = #"""
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
bpp = 4 if colour == 6 else 3
raw = zlib.decompress(idat)
stride = width * bpp
previous = bytearray(stride)
wanted = [tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in sys.argv[2:]]
counts = [0] * len(wanted)
distinct = set()
for row in range(height):
    start = row * (stride + 1)
    kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = previous[i]
        c = previous[i - bpp] if i >= bpp else 0
        if kind == 1: line[i] = (line[i] + a) & 255
        elif kind == 2: line[i] = (line[i] + b) & 255
        elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        pixel = tuple(line[x:x + 3])
        if len(distinct) < 1000: distinct.add(pixel)
        if pixel in wanted: counts[wanted.index(pixel)] += 1
    previous = line
print(width, height, len(distinct), *counts)
"""#

@Test(
    "report.html renders in headless Chromium, and the screenshot shows the timeline's dots",
    .enabled(if: Tool.chromium != nil, "no headless Chromium installed (apt-get install chromium)"),
    .enabled(if: Tool.python3, "python3 is not installed (used to read the screenshot)"))
func reportRendersInChromium() throws {
    let browser = try #require(Tool.chromium)
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: try database.incidents().map(\.id), commandLine: "", toolVersion: ""), to: bag)
    let severities = Set(try database.incidents().map(\.severity))
    let screenshot = directory.file("report.png")
    let shot = runQuiet(browser, [
        "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--user-data-dir=" + directory.file("profile"), "--screenshot=" + screenshot, "--window-size=1000,1000",
        "file://" + bag + "/data/report.html",
    ])
    #expect(shot?.status == 0)
    let script = directory.file("pixels.py")
    try pixelCounter.write(toFile: script, atomically: false, encoding: .utf8)
    // The timeline's dot colours: high severity, low severity.
    let output = try #require(runQuiet("python3", [script, screenshot, "c0392b", "2c7fb8"])?.output)
    let numbers = output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    try #require(numbers.count == 5, "\(output)")
    #expect(numbers[0] == 1000 && numbers[1] == 1000)
    #expect(numbers[2] > 20, "a near-blank page: \(numbers[2]) colours")
    if severities.contains("high") { #expect(numbers[3] > 20, "no high-severity dot drawn") }
    if severities.contains("low") { #expect(numbers[4] > 20, "no low-severity dot drawn") }
}
