import Indicators
import Observations

/// Indicator table lookups against straightforward baselines. (To be written.)
enum IndicatorBenchmark {
    static func run(arguments: [String]) {
        print("lookups: not written yet")
    }
}
