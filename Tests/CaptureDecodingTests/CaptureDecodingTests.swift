import Testing
@testable import CaptureDecoding
