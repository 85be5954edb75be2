import CaseStore
import Foundation
import Observations
import Testing
@testable import Evidence

/// `xmllint --xpath EXPRESSION FILE` (libxml2-utils), or nil when xmllint is absent.
private func xpath(_ expression: String, _ file: String) -> String? {
    guard let result = run("xmllint", ["--xpath", expression, file]), result.status != 127 else { return nil }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Test(
    "iodef.xml parses with xmllint and holds RFC 7970's required elements and attributes for every incident",
    .enabled(if: Tool.xmllint, "xmllint is not installed (package libxml2-utils)"))
func iodefRequiredElements() throws {
    let directory = try TemporaryDirectory()
    let database = try ingest([Fixtures.sampleData], into: directory)
    let incidents = try database.incidents()
    let bag = directory.file("package")
    _ = try EvidenceExporter(database: database).export(
        ExportOptions(incidentIDs: incidents.map(\.id), tlp: .red, organisation: "CERT <Test> & Co",
                      commandLine: "", toolVersion: "test"),
        to: bag)
    let file = bag + "/data/iodef.xml"
    let wellFormed = try #require(run("xmllint", ["--noout", file]))
    #expect(wellFormed.status == 0, "\(wellFormed.output)")
    let n = incidents.count
    func el(_ name: String) -> String { "*[local-name()='\(name)']" }
    let checks: [(String, String)] = [
        ("string(/\(el("IODEF-Document"))/@version)", "2.00"),
        ("namespace-uri(/*)", "urn:ietf:params:xml:ns:iodef-2.0"),
        ("count(/\(el("IODEF-Document"))/\(el("Incident")))", "\(n)"),
        ("count(//\(el("Incident"))[@purpose='reporting' and @restriction='red'])", "\(n)"),
        ("count(//\(el("Incident"))/\(el("IncidentID"))[@name='CERT <Test> & Co' and starts-with(., 'cairn-')])", "\(n)"),
        ("count(//\(el("Incident"))/\(el("GenerationTime")))", "\(n)"),
        ("count(//\(el("Incident"))/\(el("Contact"))[@role='creator' and @type='organization'])", "\(n)"),
        ("count(//\(el("Incident"))/\(el("Assessment"))/\(el("SystemImpact"))[@type])", "\(n)"),
        ("count(//\(el("EventData"))) > 0", "true"),
        ("count(//\(el("Address"))[@category='ipv4-addr' and .='203.0.113.45']) > 0", "true"),
        ("count(//\(el("DomainData"))[@system-status]/\(el("Name"))) > 0", "true"),
    ]
    for (expression, expected) in checks {
        #expect(xpath(expression, file) == expected, "\(expression)")
    }
    let ids = Set(incidents.map { "cairn-\($0.id)" })
    let listed = try #require(xpath("//\(el("IncidentID"))/text()", file))
    #expect(Set(listed.split(separator: "\n").map(String.init)) == ids)
}

@Test("XML escaping keeps markup out and replaces characters XML cannot hold", arguments: [
    ("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;"), ("tab\tok", "tab\tok"), ("bell\u{07}", "bell\u{FFFD}"),
])
func xmlEscape(text: String, expected: String) {
    #expect(IODEFDocument.escape(text) == expected)
}
