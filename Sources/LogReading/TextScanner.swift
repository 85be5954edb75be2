import ByteParsing
import Observations

/// What the text scanner found, with the byte range it came from (in the scanned buffer).
package enum TextObservable: Equatable {
    case ipv4(IPv4Address, Range<Int>)
    case ipv6(IPv6Address, Range<Int>)
    case domain(Range<Int>)
    case hexDigest(Range<Int>)
    /// `scheme://host…` for http, https, ftp and the defanged hxxp, hxxps.
    case url(Range<Int>)
    /// `local@domain`, the domain checked as a domain name.
    case email(Range<Int>)
}

/// Finds IPv4 and IPv6 addresses, domain names, URLs, e-mail addresses and hex digests
/// in a line of log text.
///
/// One pass over borrowed bytes, no allocation: the text is cut into words (maximal
/// runs of `[A-Za-z0-9._-]`); each word is checked as a domain name, and its parts
/// are checked as dotted quads (runs of digits and dots not touching a letter or digit
/// outside them, or such a quad and a port after a fourth dot, `192.0.2.1.50550`) and
/// as hex digests (alphanumeric runs of exactly 32, 40 or 64 hex digits). A word that
/// is a URL scheme followed by `://` starts a URL; a word followed by `@` and a domain
/// name is the local part of an e-mail address. The first pass moves 64 bytes at a
/// time (`WideBlock`, four classifications of 16 by `ByteClasses`), carrying a word
/// that crosses into the next block; it also counts the colons, and a second pass
/// finds IPv6 addresses only in a text whose colons allow one (`AddressColons`).
/// O(length of the text).
///
/// With a public suffix list, a word is a domain name only when its last label is a
/// top-level domain of the list's ICANN section and the word is not itself an ICANN
/// public suffix (`co.uk`): so `config.php`, `libc.so.6` and `chrome.exe` are not names.
/// The private section is left out of that test on purpose: its suffixes (`github.io`,
/// `dyndns.org`) are registered domains that indicator lists do name. A few real TLDs
/// that logs use as file extensions (`.properties`) and reverse-DNS identifiers
/// (`com.apple.…`) are set aside too. Without a list the
/// rule is syntactic: the last label alphabetic and at least two letters long.
package enum TextScanner {
    /// The longest domain name (RFC 1035), without the trailing dot.
    static let maximumDomainLength = 253
    /// The longest DNS label (RFC 1035).
    static let maximumLabelLength = 63

    /// A word that runs to the end of a block: where it starts and whether its bytes so
    /// far hold a dot. The block loop moves 64 bytes at a time and carries it into the
    /// next block, so that no byte is classified twice.
    struct OpenWord {
        var start: Int
        var hasDot: Bool
    }

    /// The classes of the 64 bytes from `index` (bit `i` for byte `index + i`), from four
    /// 16-byte classifications (`ByteClasses`): the block loop moves 64 bytes at a time,
    /// so that fewer words run into the next block. Lanes at or past `end` read as
    /// non-word bytes; the last 16 bytes before `end` are read as the 16 that end there,
    /// so `end` must be at least 16.
    struct WideBlock {
        static let lanes = 64
        /// Word bytes, and `.`, `@` or `:` (`ByteClasses.Masks`).
        var word: UInt64 = 0
        var special: UInt64 = 0
        /// ASCII letters and digits (`ByteClasses.Kinds`).
        var letter: UInt64 = 0
        var digit: UInt64 = 0

        @inline(__always)
        init(_ text: Span<UInt8>, at index: Int, end: Int) {
            let chunks = WideBlock.lanes / ByteClasses.blockSize
            if end - index >= WideBlock.lanes {
                for chunk in 0..<chunks {
                    add(ByteClasses.masksAndKinds(text, at: index + chunk * ByteClasses.blockSize), chunk: chunk, shift: 0)
                }
                return
            }
            for chunk in 0..<chunks {
                let start = index + chunk * ByteClasses.blockSize
                guard start < end else { break }
                // Past `end`, the chunk is the 16 bytes that end there, moved down by
                // `shift` lanes: they start at end - 16 >= 0 and end at end <= text.count.
                let shift = max(0, start + ByteClasses.blockSize - end)
                add(ByteClasses.masksAndKinds(text, at: start - shift), chunk: chunk, shift: shift)
            }
        }

        @inline(__always)
        private mutating func add(_ classes: (masks: ByteClasses.Masks, kinds: ByteClasses.Kinds), chunk: Int, shift: Int) {
            let lane = chunk * ByteClasses.blockSize
            word |= UInt64(classes.masks.word >> shift) << lane
            special |= UInt64(classes.masks.special >> shift) << lane
            letter |= UInt64(classes.kinds.letter >> shift) << lane
            digit |= UInt64(classes.kinds.digit >> shift) << lane
        }

        /// The lanes that start 32 set lanes of `mask` in a row within the block.
        @inline(__always)
        static func runsOf32(_ mask: UInt64) -> UInt64 {
            var runs = mask
            runs &= runs >> 1
            runs &= runs >> 2
            runs &= runs >> 4
            runs &= runs >> 8
            runs &= runs >> 16
            return runs
        }
    }

    /// Calls `found` for every observable in `text[range]`, left to right.
    package static func scan(
        _ text: Span<UInt8>, in range: Range<Int>, suffixes: PublicSuffixList? = nil,
        found: (TextObservable) -> Void
    ) {
        var index = range.lowerBound
        let end = min(range.upperBound, text.count)
        let within = range.lowerBound..<end
        // The word running into the block at `index`, if any.
        var open: OpenWord?
        var colons = AddressColons(end: end)
        while index < end, end >= ByteClasses.blockSize {
            // The 64 bytes at `index`; lanes at or past `end` read as non-word bytes.
            let block = WideBlock(text, at: index, end: end)
            let nonWord = ~block.word
            let dots = block.special & block.word
            // Lanes before `from` belong to a word already dealt with.
            var from = 0
            if let carried = open {
                let wordEnd = nonWord.trailingZeroBitCount
                guard wordEnd < WideBlock.lanes else {
                    // A long word (a digest, a long host name) goes on (a last block ends
                    // in non-word lanes).
                    open = OpenWord(start: carried.start, hasDot: carried.hasDot || dots != 0)
                    colons.noteWordBlock()
                    index += WideBlock.lanes
                    continue
                }
                let word = carried.start..<(index + wordEnd)
                let hasDot = carried.hasDot || dots & (1 << wordEnd &- 1) != 0
                scanCarriedWord(text, word, hasDot: hasDot, within: within, suffixes: suffixes, found: found)
                open = nil
                from = wordEnd
            }
            colons.note(word: block.word, special: block.special, at: index)
            // Every word that ends inside the block, from the masks alone; only a word
            // with a dot, followed by `@` or `:` (an e-mail address or URL), or long
            // enough to hold a digest is looked at. A seed marks such a word: its dots,
            // its last byte when `@` or `:` follows, and the first of 32 word bytes in a
            // row.
            var seeds = (dots | (block.special & nonWord) >> 1 & block.word | WideBlock.runsOf32(block.word))
                & ~(1 << from &- 1)
            while seeds != 0 {
                let seed = seeds.trailingZeroBitCount
                // The word around the seed: after the last non-word byte before it (lane
                // 0 when none: then no word ran into the block), up to the next non-word byte.
                let before = nonWord & (1 << seed &- 1)
                let wordStart = before == 0 ? 0 : WideBlock.lanes - before.leadingZeroBitCount
                let wordEnd = seed + (nonWord >> seed).trailingZeroBitCount
                // The seed is in the word running into the next block: carried below.
                if wordEnd >= WideBlock.lanes { break }
                let word = (index + wordStart)..<(index + wordEnd)
                let lengthMask: UInt64 = 1 << word.count &- 1
                let wordDots = dots >> wordStart & lengthMask
                // The byte after the word (a non-word byte), unless the text ends there.
                let next = word.upperBound < end ? text[word.upperBound] : 0
                if next == UInt8(ascii: "@") || next == UInt8(ascii: ":") && startsURLHost(text, at: word.upperBound, end: end)
                    || word.count >= shortestDigestLength
                {
                    scanWord(text, word, hasDot: wordDots != 0, within: within, suffixes: suffixes, found: found)
                } else if wordDots != 0 {
                    scanShortDottedWord(
                        text, word, letters: UInt32(truncatingIfNeeded: block.letter >> wordStart & lengthMask),
                        digits: UInt32(truncatingIfNeeded: block.digit >> wordStart & lengthMask),
                        dots: UInt32(truncatingIfNeeded: wordDots), suffixes: suffixes, found: found)
                }
                // A word followed by `:` (not `://`) without a dot holds nothing: no call.
                seeds &= ~(1 << wordEnd &- 1)
            }
            let tail = nonWord.leadingZeroBitCount
            if tail > 0 {
                let tailStart = WideBlock.lanes - tail
                open = OpenWord(start: index + tailStart, hasDot: dots >> tailStart != 0)
            }
            index += min(WideBlock.lanes, end - index)
        }
        // A word that ends where the text does, at the end of a full block (the loop
        // stopped at index == end).
        if let carried = open {
            scanWord(text, carried.start..<end, hasDot: carried.hasDot, within: within, suffixes: suffixes, found: found)
        }
        // A text shorter than a block, one byte at a time.
        colons.noteBytes(text, index..<end)
        while index < end {
            guard ByteClasses.isWordByte(text[index]) else {
                index += 1
                continue
            }
            let start = index
            let hasDot: Bool
            (index, hasDot) = wordExtent(text, from: start, end: end)
            // As in a block: a word shorter than 16 bytes holds something only when it
            // has a dot or is followed by `@` or `:` (see `scanWord`).
            if hasDot || index < end && (text[index] == UInt8(ascii: "@") || text[index] == UInt8(ascii: ":")) {
                scanWord(text, start..<index, hasDot: hasDot, within: within, suffixes: suffixes, found: found)
            }
        }
        if colons.mayStartAddress {
            scanIPv6(text, within, firstColon: colons.first, lastColon: colons.last, found: found)
        }
    }

    /// What the first pass learns about the colons of a text for the IPv6 pass: an
    /// address's run (see `scanIPv6`) has `::` or at least six colons, so at least five
    /// colons each followed by a byte of the run; without a `::` and such five colons
    /// the text holds no address and the pass is not run. `@` is counted with `:` (the
    /// masks do not tell them apart): that only runs the pass on more texts.
    struct AddressColons {
        /// The first colon followed by a run byte; no colon before it starts an address.
        private(set) var first: Int
        /// The last colon followed by a run byte; no colon after it starts an address.
        private(set) var last: Int
        /// Colons followed by a byte that may be a run byte (a word byte, `:` or `@`).
        private var followed = 0
        /// Whether two colons stand together.
        private var paired = false
        /// Whether the last byte noted is a colon.
        private var lastIsColon = false

        init(end: Int) {
            first = end
            last = end
        }

        var mayStartAddress: Bool { paired || followed >= 5 }

        /// Notes the colons of the 64-byte block at `index` (its `WideBlock` masks).
        @inline(__always)
        mutating func note(word: UInt64, special: UInt64, at index: Int) {
            let colons = special & ~word
            guard colons != 0 else {
                lastIsColon = false
                return
            }
            let lastLane: UInt64 = 1 << (WideBlock.lanes - 1)
            // The last lane's follower is in the next block: counted as if it followed.
            let followedColons = colons & ((word | special) >> 1 | lastLane)
            if followedColons != 0 {
                if followed == 0 { first = index + followedColons.trailingZeroBitCount }
                last = index + WideBlock.lanes - 1 - followedColons.leadingZeroBitCount
                followed += followedColons.nonzeroBitCount
            }
            if colons & colons >> 1 != 0 || lastIsColon && colons & 1 != 0 { paired = true }
            lastIsColon = colons & lastLane != 0
        }

        /// Notes a block of word bytes only.
        @inline(__always)
        mutating func noteWordBlock() { lastIsColon = false }

        /// Notes the text's last bytes, fewer than a block, one at a time.
        mutating func noteBytes(_ text: Span<UInt8>, _ bytes: Range<Int>) {
            for index in bytes {
                let byte = text[index]
                guard byte == UInt8(ascii: ":") || byte == UInt8(ascii: "@") else {
                    lastIsColon = false
                    continue
                }
                if lastIsColon { paired = true }
                lastIsColon = true
                // The text's last byte has no follower: counted as if it had one.
                let next = index + 1 < bytes.upperBound ? text[index + 1] : UInt8(ascii: ":")
                if ByteClasses.isWordByte(next) || next == UInt8(ascii: ":") || next == UInt8(ascii: "@") {
                    if followed == 0 { first = index }
                    last = index
                    followed += 1
                }
            }
        }
    }

    /// A word that started in an earlier block and ends in the block at hand (at or
    /// before `within.upperBound`). One shorter than the shortest digest is decided from
    /// the masks of the one or two blocks from its start (or, near the text's end, of
    /// those that end with the text), as a word inside one block is; a longer one byte
    /// by byte.
    @inline(__always)
    private static func scanCarriedWord(
        _ text: Span<UInt8>, _ word: Range<Int>, hasDot: Bool, within: Range<Int>,
        suffixes: PublicSuffixList?, found: (TextObservable) -> Void
    ) {
        let blocks = word.count < ByteClasses.blockSize ? 1 : 2
        let first = min(word.lowerBound, within.upperBound - blocks * ByteClasses.blockSize)
        guard word.count < shortestDigestLength, first >= 0 else {
            scanWord(text, word, hasDot: hasDot, within: within, suffixes: suffixes, found: found)
            return
        }
        let next = word.upperBound < within.upperBound ? text[word.upperBound] : 0
        if next == UInt8(ascii: "@") || next == UInt8(ascii: ":") && startsURLHost(text, at: word.upperBound, end: within.upperBound) {
            scanWord(text, word, hasDot: hasDot, within: within, suffixes: suffixes, found: found)
        } else if hasDot {
            var letters: UInt32 = 0
            var digits: UInt32 = 0
            var dots: UInt32 = 0
            for block in 0..<blocks {
                // The blocks start at `first` >= 0 and end at first + 16 * blocks, which
                // `first`'s choice keeps at or before within.upperBound <= text.count.
                let start = first + block * ByteClasses.blockSize
                let masks = ByteClasses.masks(text, at: start)
                let kinds = ByteClasses.kinds(text, at: start)
                let lane = block * ByteClasses.blockSize
                letters |= UInt32(kinds.letter) << lane
                digits |= UInt32(kinds.digit) << lane
                dots |= UInt32(masks.special & masks.word) << lane
            }
            let shift = word.lowerBound - first
            let lengthMask: UInt32 = 1 << word.count &- 1
            scanShortDottedWord(
                text, word, letters: letters >> shift & lengthMask, digits: digits >> shift & lengthMask,
                dots: dots >> shift & lengthMask, suffixes: suffixes, found: found)
        }
    }

    /// Whether `://` starts at `colon` with a byte after it, as `scanWord` requires of a URL.
    @inline(__always)
    static func startsURLHost(_ text: Span<UInt8>, at colon: Int, end: Int) -> Bool {
        colon + 2 < end && text[colon + 1] == UInt8(ascii: "/") && text[colon + 2] == UInt8(ascii: "/")
    }

    /// What `scanWordParts(domainAllowed: true)` finds in a word of 31 bytes or fewer
    /// with a dot, decided from the blocks' masks (bit 0 is the word's first byte) with
    /// no pass over the word in the common cases: digits and dots (`192.0.2.1`, `2.0`)
    /// can only be a dotted quad (no letter, so no name; too short for a digest); a word
    /// with letters and no `-`/`_` is one run that is no quad, so only a name, and not one
    /// when no dot comes before its last letter or digit or its last label has no letter
    /// (`libc.so.6`). Other words take the general way.
    @inline(__always)
    private static func scanShortDottedWord(
        _ text: Span<UInt8>, _ word: Range<Int>, letters: UInt32, digits: UInt32, dots: UInt32,
        suffixes: PublicSuffixList?, found: (TextObservable) -> Void
    ) {
        let lengthMask: UInt32 = 1 << word.count &- 1
        let joiners = lengthMask & ~(letters | digits | dots)
        guard joiners == 0 else {
            // `-` or `_` cut the word into runs.
            scanWordParts(text, word, domainAllowed: true, suffixes: suffixes, found: found)
            return
        }
        if letters == 0 {
            // One run, from the first digit to the word's end; a full stop after it is not
            // part of the quad (as in `scanWordParts`).
            guard digits != 0 else { return }
            let start = word.lowerBound + digits.trailingZeroBitCount
            var quadEnd = word.upperBound
            if quadEnd - start > 1, text[quadEnd - 1] == UInt8(ascii: "."), text[quadEnd - 2] != UInt8(ascii: ".") {
                quadEnd -= 1
            }
            // A quad has three dots: versions (`2.0`, `7.88.1`) are not parsed; with four,
            // the last may put a port after a quad (`192.0.2.1.50550`, dante and tcpdump).
            let quadMask: UInt32 = (1 << (quadEnd - word.lowerBound) &- 1) & ~(1 << (start - word.lowerBound) &- 1)
            let quadDots = dots & quadMask
            guard quadDots.nonzeroBitCount == 3 else {
                if quadDots.nonzeroBitCount == 4, let quad = quadBeforePort(text, start..<quadEnd) {
                    found(.ipv4(quad.address, quad.range))
                }
                return
            }
            if let address = parseIPv4(text, start..<quadEnd) {
                found(.ipv4(address, start..<quadEnd))
            }
            return
        }
        // `domainRange` from the masks: the word trimmed to its first and last letter or
        // digit, at least 4 bytes, with a dot inside, no two dots together (an empty label;
        // labels of letters and digits only, shorter than 63), and a last label with a
        // letter (with the real list), or of letters only and at least 2 long (without).
        let alphanumerics = letters | digits
        let first = alphanumerics.trailingZeroBitCount
        let last = 31 - alphanumerics.leadingZeroBitCount
        let innerDots = dots & (1 << last &- 1) & ~(1 << first &- 1)
        guard last + 1 - first >= 4, innerDots != 0, innerDots & (innerDots >> 1) == 0 else { return }
        let lastDot = 31 - innerDots.leadingZeroBitCount
        let lastLabelMask: UInt32 = (1 << (last + 1) &- 1) & ~(1 << (lastDot + 1) &- 1)
        let name = (word.lowerBound + first)..<(word.lowerBound + last + 1)
        if let suffixes {
            guard letters & lastLabelMask != 0 || !suffixes.everyTopLevelDomainHasALetter,
                  isListedName(text, name, lastLabelStart: word.lowerBound + lastDot + 1, suffixes: suffixes)
            else { return }
        } else {
            guard last - lastDot >= 2, letters & lastLabelMask == lastLabelMask else { return }
        }
        found(.domain(name))
    }

    /// 32 hex digits: an MD5, the shortest digest the scanner reports.
    static let shortestDigestLength = 32

    /// The end of the word starting at `start` and whether it has a dot, a byte at a
    /// time: for a text shorter than 16 bytes (`scan` classifies 16 bytes at once with
    /// `ByteClasses` elsewhere).
    @inline(__always)
    static func wordExtent(_ text: Span<UInt8>, from start: Int, end: Int) -> (end: Int, hasDot: Bool) {
        var index = start
        var hasDot = false
        while index < end {
            let byte = text[index]
            guard ByteClasses.isWordByte(byte) else { break }
            if byte == UInt8(ascii: ".") { hasDot = true }
            index += 1
        }
        return (index, hasDot)
    }

    /// Top-level domains of the ICANN list that in logs are nearly always file name
    /// extensions (`workers2.properties`, `eth0.network`); names under them are not
    /// reported. Kept short: `.zip` and `.mov` stay, as phishing uses them.
    static let fileExtensionTopLevelDomains: [StaticString] = ["properties", "network"]

    /// First labels that mark a reverse-DNS identifier (`com.apple.ncplugin.weather`,
    /// `org.gnome.Shell.app`) rather than a host name: Java packages, macOS bundle and
    /// D-Bus names. A registered name starting with `com.` is vanishingly rare.
    static let reverseDNSFirstLabels: [StaticString] = ["com", "org", "net"]

    /// Special-use top-level domains (RFC 2606, RFC 6761) the list does not hold but
    /// that documentation, test data and sample rules use (`paypa1-login.test`); names
    /// under them are reported as if their top-level domain were delegated.
    static let specialUseTopLevelDomains: [StaticString] = ["test", "example", "invalid"]

    /// The longest local part of an e-mail address (RFC 5321).
    static let maximumLocalPartLength = 64

    /// The e-mail address around the `@` at `at`: the local part (`[A-Za-z0-9._%+-]`,
    /// not starting with a dot) before it and a domain name right after it.
    static func emailRange(
        _ text: Span<UInt8>, at: Int, within range: Range<Int>, suffixes: PublicSuffixList?
    ) -> Range<Int>? {
        var localStart = at
        while localStart > range.lowerBound, isLocalPartByte(text[localStart - 1]) { localStart -= 1 }
        while localStart < at, text[localStart] == UInt8(ascii: ".") { localStart += 1 }
        guard localStart < at, at - localStart <= maximumLocalPartLength else { return nil }
        var wordEnd = at + 1
        while wordEnd < range.upperBound, ByteClasses.isWordByte(text[wordEnd]) { wordEnd += 1 }
        guard let domain = domainRange(text, (at + 1)..<wordEnd, suffixes: suffixes),
              domain.lowerBound == at + 1
        else { return nil }
        return localStart..<domain.upperBound
    }

    @inline(__always)
    static func isLocalPartByte(_ byte: UInt8) -> Bool {
        ByteClasses.isWordByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "%")
    }

    /// http, https, ftp, hxxp, hxxps, any case.
    static func isURLScheme(_ text: Span<UInt8>, _ word: Range<Int>) -> Bool {
        guard word.count >= 3, word.count <= 5 else { return false }
        var key: UInt64 = 0
        for index in word { key = key << 8 | UInt64(text[index] | 0x20) }
        switch key {
        case 0x6874_7470, 0x68_7474_7073, 0x66_7470, 0x6878_7870, 0x68_7878_7073: return true
        default: return false
        }
    }

    /// The URL starting at `start` whose scheme ends at `schemeEnd` (at `://`): up to the
    /// first space, control byte, quote or angle bracket, without trailing punctuation
    /// and without a closing bracket or parenthesis it does not open. Nil when no host
    /// follows `://`.
    static func urlRange(_ text: Span<UInt8>, from start: Int, schemeEnd: Int, end: Int) -> Range<Int>? {
        let hostStart = schemeEnd + 3
        guard hostStart < end, ByteClasses.isAlphanumeric(text[hostStart]) || text[hostStart] == UInt8(ascii: "[") else {
            return nil
        }
        var index = hostStart
        var parentheses = 0
        var brackets = 0
        while index < end {
            let byte = text[index]
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "'"),
                  byte != UInt8(ascii: "<"), byte != UInt8(ascii: ">"), byte != UInt8(ascii: "`"),
                  byte != UInt8(ascii: "{"), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "|"),
                  byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "^")
            else { break }
            switch byte {
            case UInt8(ascii: "("): parentheses += 1
            case UInt8(ascii: ")"): parentheses -= 1
            case UInt8(ascii: "["): brackets += 1
            case UInt8(ascii: "]"): brackets -= 1
            default: break
            }
            index += 1
        }
        while index > hostStart {
            let last = text[index - 1]
            if last == UInt8(ascii: ".") || last == UInt8(ascii: ",") || last == UInt8(ascii: ";")
                || last == UInt8(ascii: ":") || last == UInt8(ascii: "!") || last == UInt8(ascii: "?")
            {
                index -= 1
            } else if last == UInt8(ascii: ")"), parentheses < 0 {
                parentheses += 1
                index -= 1
            } else if last == UInt8(ascii: "]"), brackets < 0 {
                brackets += 1
                index -= 1
            } else {
                break
            }
        }
        return index > hostStart ? start..<index : nil
    }

    /// IPv6 addresses: maximal runs of `[0-9A-Za-z:.]` made only of hex digits, colons
    /// and dots (after a label, `IPv6:` or `client:`, see `addressAfterLabel`), with at
    /// least two colons, that parse as RFC 4291 text, or do once a port after their last
    /// `:` or `.` is taken off (`ipv6BeforePort`). A second pass
    /// over the text, so these come after the line's other observables. It looks only
    /// at the colons from `firstColon` to `lastColon`, which the first pass found: no
    /// colon outside them is followed by a byte of such a run, so none starts a run with
    /// two colons (a run is still followed past `lastColon`).
    private static func scanIPv6(
        _ text: Span<UInt8>, _ range: Range<Int>, firstColon: Int, lastColon: Int,
        found: (TextObservable) -> Void
    ) {
        var index = max(firstColon, range.lowerBound)
        let searchEnd = min(lastColon + 1, range.upperBound)
        guard range.upperBound <= text.count else { return }
        while index < searchEnd {
            // Only runs with a colon can be addresses: jump to the next colon (the
            // search is vectorised), then back to the start of its run.
            guard var runStart = text.firstIndex(of: UInt8(ascii: ":"), from: index, to: searchEnd) else { return }
            // The first colon of its run (earlier runs are behind `index`): when the run
            // ends right after it ("query: "), it has one colon and holds no address.
            if runStart + 1 >= range.upperBound || !ByteClasses.isIPv6RunByte(text[runStart + 1]) {
                index = runStart + 1
                continue
            }
            // Back to the run's start: it can reach before `index` only for the first
            // colon (every later search starts after a byte that ends a run).
            while runStart > range.lowerBound, ByteClasses.isIPv6RunByte(text[runStart - 1]) { runStart -= 1 }
            var run = IPv6Run(text, from: runStart, end: range.upperBound)
            index = run.end
            // A label before the address (`IPv6:2001:db8::1`, `client:fe80::1`): the run
            // from after its colon, which ends where the run does.
            if !run.allHex, let afterLabel = addressAfterLabel(text, runStart..<run.end) {
                runStart = afterLabel
                run = IPv6Run(text, from: runStart, end: range.upperBound)
            }
            let colons = run.colons
            let hasDoubleColon = run.hasDoubleColon
            let candidate = run.allHex
            // An address without `::` has seven colons, or six before an embedded IPv4
            // address, and one with `::` at most eight; trimming below removes at most two
            // colons. So a run with neither `::` nor six colons (a time, `2024:00:00:00`),
            // or with more than ten (a MAC header, `52:54:00:…:08:00`), holds none: no parse.
            guard candidate, colons >= 2, hasDoubleColon || colons >= 6, colons <= 10 else { continue }
            var start = runStart
            // A separator before the address: "en0+:2607:f140::1", "port:fe80::1".
            if index - start > 2, text[start] == UInt8(ascii: ":"), text[start + 1] != UInt8(ascii: ":") {
                start += 1
            }
            var end = index
            // Punctuation after the address: "from fe80::1: error", "to 2001:db8::1."
            if end - start > 2, text[end - 1] == UInt8(ascii: ".") || text[end - 1] == UInt8(ascii: ":"),
               text[end - 2] != UInt8(ascii: ":")
            {
                end -= 1
            }
            if let address = parseIPv6(text, start..<end) {
                found(.ipv6(address, start..<end))
            } else if let address = ipv6BeforePort(text, start..<end) {
                found(.ipv6(address.address, address.range))
            }
        }
    }

    /// The longest label `addressAfterLabel` looks at (`IPv6`, `client`, `remote`, `en0`).
    static let maximumAddressLabelLength = 16

    /// Where an address may start in a run of `[0-9A-Za-z:.]` that holds a letter no hex
    /// digit has: after a first colon that ends a label of letters and digits with such a
    /// letter, when a hex digit follows it; after `IPv6:` whatever follows (RFC 5321's
    /// address literal, `[IPv6:::ffff:192.0.2.1]`). A run whose first colon is followed by
    /// another (`CCFile::captureLogRun`, `std::string`) stays an identifier.
    static func addressAfterLabel(_ text: Span<UInt8>, _ run: Range<Int>) -> Int? {
        var index = run.lowerBound
        var nonHexLetter = false
        while index < run.upperBound, index - run.lowerBound < maximumAddressLabelLength, ByteClasses.isAlphanumeric(text[index]) {
            if !ByteClasses.isHexDigit(text[index]) { nonHexLetter = true }
            index += 1
        }
        guard nonHexLetter, index + 1 < run.upperBound, text[index] == UInt8(ascii: ":") else { return nil }
        if ByteClasses.isHexDigit(text[index + 1]) { return index + 1 }
        let label = run.lowerBound
        let isIPv6Label = index - label == 4 && text[label] | 0x20 == UInt8(ascii: "i")
            && text[label + 1] | 0x20 == UInt8(ascii: "p") && text[label + 2] | 0x20 == UInt8(ascii: "v")
            && text[label + 3] == UInt8(ascii: "6")
        return isIPv6Label ? index + 1 : nil
    }

    /// A maximal run of `[0-9A-Za-z:.]` (its start given), as the IPv6 pass sees it:
    /// where it ends, its colons, whether two of them stand together, and whether all
    /// its letters are hex digits. Found 16 bytes at a time while 16 remain
    /// (`52:54:00:12:34:56:00:1b:21:3a:4f:01:08:00`, of firewall lines, is 41 bytes).
    struct IPv6Run {
        var end: Int
        var colons = 0
        var hasDoubleColon = false
        var allHex = true

        init(_ text: Span<UInt8>, from start: Int, end textEnd: Int) {
            var index = start
            // Whether the byte before `index` is a colon of the run.
            var afterColon = false
            // index + 16 <= textEnd <= text.count (`scanIPv6` checks it).
            while textEnd - index >= ByteClasses.blockSize {
                let block = ByteClasses.runMasks(text, at: index)
                let length = (~block.run).trailingZeroBitCount
                let inRun: UInt16 = length == ByteClasses.blockSize ? 0xFFFF : 1 << length &- 1
                let colonLanes = block.colon & inRun
                colons += colonLanes.nonzeroBitCount
                if colonLanes & colonLanes << 1 != 0 || afterColon && colonLanes & 1 != 0 { hasDoubleColon = true }
                if block.nonHexLetter & inRun != 0 { allHex = false }
                index += length
                guard length == ByteClasses.blockSize else {
                    self.end = index
                    return
                }
                afterColon = colonLanes & 0x8000 != 0
            }
            while index < textEnd {
                let current = text[index]
                if current == UInt8(ascii: ":") {
                    if afterColon { hasDoubleColon = true }
                    colons += 1
                } else if current == UInt8(ascii: ".") {
                } else if ByteClasses.isAlphanumeric(current) {
                    if !ByteClasses.isHexDigit(current) { allHex = false }
                } else {
                    break
                }
                afterColon = current == UInt8(ascii: ":")
                index += 1
            }
            self.end = index
        }
    }

    /// Parses RFC 4291 text occupying exactly `range` (`2001:db8::1`, `::ffff:192.0.2.1`)
    /// with `AddressText.parseIPv6`, except that a bare `::` is not taken: in a log it is
    /// C++'s scope operator or `listening on ::`, the unspecified address, which is no
    /// indicator (see `ipv6BeforePort`). No allocation.
    @inline(__always)
    static func parseIPv6(_ text: Span<UInt8>, _ range: Range<Int>) -> IPv6Address? {
        guard range.count > 2 else { return nil }
        return AddressText.parseIPv6(text, range)
    }

    /// Everything the word `text[word]` starts or holds: an e-mail address (when `@`
    /// follows), a URL (when `://` follows a scheme), and, when it has a dot or is as
    /// long as a digest, its dotted quads, digests and domain name.
    @inline(__always)
    private static func scanWord(
        _ text: Span<UInt8>, _ word: Range<Int>, hasDot: Bool, within range: Range<Int>,
        suffixes: PublicSuffixList?, found: (TextObservable) -> Void
    ) {
        let start = word.lowerBound
        let index = word.upperBound
        let end = range.upperBound
        // The local part of an e-mail address is not a domain.
        let followedByAt = index < end && text[index] == UInt8(ascii: "@")
        if followedByAt, let email = emailRange(text, at: index, within: range, suffixes: suffixes) {
            found(.email(email))
        }
        if index + 2 < end, text[index] == UInt8(ascii: ":"), text[index + 1] == UInt8(ascii: "/"),
           text[index + 2] == UInt8(ascii: "/"), isURLScheme(text, start..<index),
           let url = urlRange(text, from: start, schemeEnd: index, end: end)
        {
            found(.url(url))
        }
        // A word without a dot and shorter than the shortest digest can hold no
        // address, name or digest (e-mail and URL starts were checked above):
        // most words of a log line ("Failed", "password", "port") end here.
        if hasDot {
            scanWordParts(text, word, domainAllowed: !followedByAt, suffixes: suffixes, found: found)
        } else if index - start >= shortestDigestLength {
            // A word without a dot is no name and holds no quad: only digests.
            scanUndottedDigests(text, word, found: found)
        }
    }

    private static func scanWordParts(
        _ text: Span<UInt8>, _ word: Range<Int>, domainAllowed: Bool, suffixes: PublicSuffixList?,
        found: (TextObservable) -> Void
    ) {
        // Dotted quads and digests, in the order they appear.
        var index = word.lowerBound
        while index < word.upperBound {
            let byte = text[index]
            if ByteClasses.isAlphanumeric(byte) {
                let start = index
                var allDigitsOrDots = true
                while index < word.upperBound {
                    let current = text[index]
                    if ByteClasses.isAlphanumeric(current) {
                        if !ByteClasses.isDigit(current) { allDigitsOrDots = false }
                    } else if current != UInt8(ascii: ".") {
                        break
                    }
                    index += 1
                }
                // start..<index is a run of [A-Za-z0-9.], bounded by '-', '_' or the word's ends.
                var quadEnd = index
                // A sentence's full stop after an address ("from 192.0.2.1.").
                if quadEnd == word.upperBound, quadEnd - start > 1, text[quadEnd - 1] == UInt8(ascii: "."),
                   text[quadEnd - 2] != UInt8(ascii: ".")
                {
                    quadEnd -= 1
                }
                if allDigitsOrDots, let address = parseIPv4(text, start..<quadEnd) {
                    found(.ipv4(address, start..<quadEnd))
                } else if allDigitsOrDots, let quad = quadBeforePort(text, start..<quadEnd) {
                    found(.ipv4(quad.address, quad.range))
                } else if index - start >= shortestDigestLength {
                    // A shorter run has no part as long as a digest.
                    scanDigests(text, start..<index, found: found)
                }
            } else {
                index += 1
            }
        }
        if domainAllowed, let domain = domainRange(text, word, suffixes: suffixes) { found(.domain(domain)) }
    }

    /// What `scanWordParts` finds in a word without a dot, in one pass: its runs between
    /// `-` and `_` of exactly 32, 40 or 64 hex digits.
    private static func scanUndottedDigests(
        _ text: Span<UInt8>, _ word: Range<Int>, found: (TextObservable) -> Void
    ) {
        var runStart = word.lowerBound
        var allHex = true
        var index = word.lowerBound
        while true {
            let atEnd = index == word.upperBound
            // The word has no dot: a byte that is no letter or digit is `-` or `_`.
            if atEnd || !ByteClasses.isAlphanumeric(text[index]) {
                let length = index - runStart
                if allHex, length == 32 || length == 40 || length == 64 { found(.hexDigest(runStart..<index)) }
                if atEnd { return }
                runStart = index + 1
                allHex = true
            } else if !ByteClasses.isHexDigit(text[index]) {
                allHex = false
            }
            index += 1
        }
    }

    /// Digests in a run of `[A-Za-z0-9.]`: the dot-separated parts that are exactly
    /// 32, 40 or 64 hex digits (a bare digest, or e.g. "file.<md5>.gz").
    private static func scanDigests(
        _ text: Span<UInt8>, _ run: Range<Int>, found: (TextObservable) -> Void
    ) {
        var index = run.lowerBound
        while index < run.upperBound {
            let start = index
            var allHex = true
            while index < run.upperBound, text[index] != UInt8(ascii: ".") {
                if !ByteClasses.isHexDigit(text[index]) { allHex = false }
                index += 1
            }
            let length = index - start
            if allHex, length == 32 || length == 40 || length == 64 { found(.hexDigest(start..<index)) }
            index += 1
        }
    }

    /// Parses a dotted quad occupying exactly `range` (`AddressText.parseIPv4`).
    @inline(__always)
    static func parseIPv4(_ text: Span<UInt8>, _ range: Range<Int>) -> IPv4Address? {
        AddressText.parseIPv4(text, range).map(IPv4Address.init)
    }

    /// The longest port number, in digits.
    static let maximumPortDigits = 5

    /// Where the port starts in `range` when it ends in `.port`, or `:port` when `colon`
    /// allows it: a decimal port number, 0 to 65535 without leading zeros, after the
    /// range's last `.` or `:`. Nil when the range does not end so.
    @inline(__always)
    static func portStart(_ text: Span<UInt8>, _ range: Range<Int>, colon: Bool) -> Int? {
        var index = range.upperBound
        var port = 0
        var scale = 1
        while index > range.lowerBound, ByteClasses.isDigit(text[index - 1]), range.upperBound - index < maximumPortDigits {
            index -= 1
            port += Int(text[index] &- UInt8(ascii: "0")) * scale
            scale *= 10
        }
        let digits = range.upperBound - index
        guard digits > 0, index > range.lowerBound, port <= Int(UInt16.max),
              digits == 1 || text[index] != UInt8(ascii: "0")
        else { return nil }
        let separator = text[index - 1]
        guard separator == UInt8(ascii: ".") || colon && separator == UInt8(ascii: ":") else { return nil }
        return index
    }

    /// The dotted quad before a port in `range` (digits and four dots, `192.0.2.1.50550`):
    /// how dante and tcpdump write an address and its port. A version of five numbers
    /// whose first four could be octets (`1.2.3.4.5`) reads the same way and is taken as
    /// an address too (docs/fields.md).
    static func quadBeforePort(
        _ text: Span<UInt8>, _ range: Range<Int>
    ) -> (address: IPv4Address, range: Range<Int>)? {
        guard let port = portStart(text, range, colon: false) else { return nil }
        let quad = range.lowerBound..<(port - 1)
        guard let address = parseIPv4(text, quad) else { return nil }
        return (address, quad)
    }

    /// The IPv6 address before a port in `range`, when `range` as a whole is no address:
    /// `2001:db8::1.50550` (tcpdump, dante), `::ffff:192.0.2.1:8080`, `2001:db8::1:58430`
    /// (a fifth digit makes no group). A last group of at most four digits stays the
    /// address's (`2001:db8::1:443` is an address; docs/fields.md). The unspecified
    /// address (`[/0:0:0:0:0:0:0:0:2181`, a server listening) is no indicator: nil.
    static func ipv6BeforePort(
        _ text: Span<UInt8>, _ range: Range<Int>
    ) -> (address: IPv6Address, range: Range<Int>)? {
        guard let port = portStart(text, range, colon: true) else { return nil }
        let address = range.lowerBound..<(port - 1)
        guard let parsed = parseIPv6(text, address), parsed.high != 0 || parsed.low != 0 else { return nil }
        return (parsed, address)
    }

    /// The domain name in a word, if the word (without leading and trailing `.`, `-`, `_`) is one:
    /// two or more labels of `[A-Za-z0-9_-]`, none empty or longer than 63, 253 bytes at
    /// most, and a known top-level domain (see the type's comment), or without a list a
    /// last label alphabetic and 2 to 63 long.
    static func domainRange(
        _ text: Span<UInt8>, _ word: Range<Int>, suffixes: PublicSuffixList? = nil
    ) -> Range<Int>? {
        var start = word.lowerBound
        var end = word.upperBound
        // Punctuation at the ends belongs to the text around the name ("-file.txt", "name.").
        while start < end, !ByteClasses.isAlphanumeric(text[start]) { start += 1 }
        while end > start, !ByteClasses.isAlphanumeric(text[end - 1]) { end -= 1 }
        guard end - start >= 4, end - start <= maximumDomainLength else { return nil }
        var labels = 0
        var labelLength = 0
        var lastLabelAlphabetic = true
        var lastLabelHasLetter = false
        for index in start..<end {
            let byte = text[index]
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0 else { return nil }
                labels += 1
                labelLength = 0
                lastLabelAlphabetic = true
                lastLabelHasLetter = false
            } else {
                labelLength += 1
                guard labelLength <= maximumLabelLength else { return nil }
                if ByteClasses.isLetter(byte) { lastLabelHasLetter = true } else { lastLabelAlphabetic = false }
            }
        }
        guard labels >= 1 else { return nil }
        if let suffixes {
            // Cheap tests first (a dotted quad's or `libc.so.6`'s last label has no letter,
            // and no top-level domain lacks one), the hash lookups last.
            guard lastLabelHasLetter || !suffixes.everyTopLevelDomainHasALetter,
                  isListedName(text, start..<end, lastLabelStart: end - labelLength, suffixes: suffixes)
            else { return nil }
        } else {
            guard labelLength >= 2, lastLabelAlphabetic else { return nil }
        }
        return start..<end
    }

    /// The public suffix list's part of `domainRange`'s test, for a well-formed name of
    /// two labels or more: a known top-level domain (or a special-use one), not one of
    /// the set-aside file extensions or reverse-DNS first labels, and not itself an ICANN
    /// public suffix.
    @inline(__always)
    static func isListedName(
        _ text: Span<UInt8>, _ name: Range<Int>, lastLabelStart: Int, suffixes: PublicSuffixList
    ) -> Bool {
        let lastLabel = lastLabelStart..<name.upperBound
        let bytes = text.extracting(name)
        // The top-level domain first: it rules out most file names (`banner.webp`), and
        // under most (`com`) a name of two labels or more is no ICANN suffix.
        let topLevel = suffixes.topLevelDomainRules(bytes)
        guard topLevel != .notDelegated || isOne(of: specialUseTopLevelDomains, text, lastLabel),
              !isOne(of: fileExtensionTopLevelDomains, text, lastLabel),
              !isOne(of: reverseDNSFirstLabels, text, name.lowerBound..<firstLabelEnd(text, name))
        else { return false }
        return topLevel == .delegatedAlone || !suffixes.isPublicSuffix(bytes, section: .icann)
    }

    /// The end of the first label of the name at `name`.
    static func firstLabelEnd(_ text: Span<UInt8>, _ name: Range<Int>) -> Int {
        var index = name.lowerBound
        while index < name.upperBound, text[index] != UInt8(ascii: ".") { index += 1 }
        return index
    }

    /// Whether `text[label]` is one of `labels`, ASCII case folded.
    static func isOne(of labels: [StaticString], _ text: Span<UInt8>, _ label: Range<Int>) -> Bool {
        labels.contains { candidate in
            candidate.utf8CodeUnitCount == label.count
                && text.hasPrefix(candidate, at: label.lowerBound, foldCase: true)
        }
    }
}
