import Testing
@testable import CaseStore
