import ByteParsing
import Observations

/// An observation of a log line in a form that can be kept past the scanner's call:
/// its value and host name as byte ranges of the line (or of a batch of lines), its
/// member path as a range of its keeper's copies. `lent(from:member:)` makes the
/// `Observation` handed on, borrowing the keeper's bytes.
struct LineObservation {
    /// The value: an address, or where its bytes are.
    enum Value {
        case ipv4(IPv4Address)
        case ipv6(IPv6Address)
        case domain(Range<Int>)
        case hexDigest(Range<Int>)
        case url(Range<Int>)
        case email(Range<Int>)

        /// What the text scanner found.
        init(_ found: TextObservable) {
            self = switch found {
            case .ipv4(let address, _): .ipv4(address)
            case .ipv6(let address, _): .ipv6(address)
            case .domain(let range): .domain(range)
            case .hexDigest(let range): .hexDigest(range)
            case .url(let range): .url(range)
            case .email(let range): .email(range)
            }
        }
    }

    /// Where a kept observation's host is.
    enum Host {
        /// An address (the other side of the line, once attributed), or none.
        case address(HostAddress)
        /// A host name: these bytes of the line.
        case name(Range<Int>)
    }

    var value: Value
    var field: Field
    var host: Host
    var locator: Locator
    var time: Timestamp
    /// The member path's bytes among its keeper's copies; nil when it names none or is
    /// not copied (`lent` is then given the path itself).
    var member: Range<Int>? = nil

    /// The observation, its value and host name lent from `line` (the bytes the ranges
    /// are of) and its member path from `member`.
    @_lifetime(copy line, copy member)
    func lent(from line: Span<UInt8>, member: Optional<Span<UInt8>>) -> Observation {
        let observed: ObservedValue = switch value {
        case .ipv4(let address): .ipv4(address)
        case .ipv6(let address): .ipv6(address)
        case .domain(let range): .domain(line.extracting(range))
        case .hexDigest(let range): .hexDigest(line.extracting(range))
        case .url(let range): .url(line.extracting(range))
        case .email(let range): .email(line.extracting(range))
        }
        let reference: HostReference = switch host {
        case .address(let address): HostReference(address)
        case .name(let range): .name(line.extracting(range))
        }
        return Observation(value: observed, field: field, host: reference, locator: locator, time: time, member: member)
    }

    /// The observation with its ranges of the line moved by `distance` (the line's
    /// start in a batch's bytes).
    func shifted(by distance: Int) -> LineObservation {
        var moved = self
        moved.value = switch value {
        case .ipv4, .ipv6: value
        case .domain(let range): .domain(range.shifted(by: distance))
        case .hexDigest(let range): .hexDigest(range.shifted(by: distance))
        case .url(let range): .url(range.shifted(by: distance))
        case .email(let range): .email(range.shifted(by: distance))
        }
        if case .name(let range) = host { moved.host = .name(range.shifted(by: distance)) }
        return moved
    }

    /// The address an observation of an address names, as a host.
    var address: HostAddress {
        switch value {
        case .ipv4(let address): .ipv4(address)
        case .ipv6(let address): .ipv6(address)
        default: .none
        }
    }
}

/// Copies of member paths kept with observations (`LineObservation.member`): one owned
/// buffer, emptied with the observations it serves.
struct MemberCopies {
    private(set) var bytes: [UInt8] = []

    /// Copies `member` in; its range in `bytes`.
    mutating func copy(_ member: Span<UInt8>) -> Range<Int> {
        let start = bytes.count
        bytes.append(span: member)
        return start..<bytes.count
    }

    /// The copy at `range`, or nil for none.
    @_lifetime(borrow self)
    func span(of range: Range<Int>?) -> Optional<Span<UInt8>> {
        guard let range else { return nil }
        return bytes.span.extracting(range)
    }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}
