// Micro-benchmarks of Cairn's stages, run in release:
//   swift run -c release cairn-bench <stage> [options]
// Each prints a table of its measurements with the ratio to a baseline measured in
// the same run. End-to-end comparisons with peer tools are in Benchmarks/run.py.

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "lookups":
    IndicatorBenchmark.run(arguments: Array(arguments.dropFirst()))
case "load":
    LoadBenchmark.run(arguments: Array(arguments.dropFirst()))
case "decode":
    DecodeBenchmark.run(arguments: Array(arguments.dropFirst()))
case "scan":
    ScanBenchmark.run(arguments: Array(arguments.dropFirst()))
case "store":
    StoreBenchmark.run(arguments: Array(arguments.dropFirst()))
case "export":
    ExportBenchmark.run(arguments: Array(arguments.dropFirst()))
default:
    print("""
        usage: cairn-bench <stage> [options]
          lookups    indicator table lookups against Set / binary-search baselines
          load       parse and compile 10,000,000 generated indicators: time, peak memory
          decode     decode and match a capture on one core, against a bare libpcap loop (ns per packet)
          scan       the log text scanner on one core over the bench syslog, against classifying its bytes (MB/s)
          store      append 1,000,000 sightings to a case, against a prepared INSERT loop of the same rows
          export     cairn export and cairn verify of a 100,000-sighting incident (time, peak RSS)
        """)
}
