import ByteParsing
import Observations

/// IP datagrams being reassembled from their fragments.
final class FragmentTable {
    let options: DecodingOptions
    init(options: DecodingOptions) { self.options = options }
}

extension PacketDecoder {
    mutating func finishFragments() {}
}
