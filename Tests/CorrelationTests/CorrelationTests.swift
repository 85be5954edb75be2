import Testing
@testable import Correlation
