/// HTTP dates (RFC 9110 §5.6.7), with plain calendar arithmetic: no Foundation, no libc calls,
/// no allocation when appending.
///
/// Rendering is always IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, 29 bytes). Parsing accepts
/// the three forms a recipient must (IMF-fixdate, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`,
/// asctime `Sun Nov  6 08:49:37 1994`); anything else is nil, and a date that does not parse
/// makes an If-Modified-Since or If-Range condition inapplicable, as RFC 9110 requires. The
/// weekday name is checked for form, not against the date. A two-digit RFC 850 year is taken as
/// 19xx from 70 up and 20xx below (simpler than, and for real clients equal to, the RFC's
/// 50-years-ahead rule).
public enum HTTPDate {
    /// Bytes in an IMF-fixdate.
    public static let length = 29

    private static let dayNames: StaticString = "ThuFriSatSunMonTueWed"  // day 0 of the epoch was a Thursday
    private static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
    private static let longDayNames: [StaticString] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    /// Latest renderable instant: 9999-12-31 23:59:59; earlier than the epoch renders as the epoch.
    static let maxSeconds = 253_402_300_799

    /// Appends the IMF-fixdate for `seconds` since the epoch (clamped to 1970…9999).
    public static func append(_ seconds: Int, to out: inout [UInt8]) {
        let t = min(max(seconds, 0), maxSeconds)
        let days = t / 86_400
        let secondOfDay = t % 86_400
        let (year, month, day) = civil(fromDays: days)
        let names = dayNames.utf8Start
        let weekday = days % 7
        out.append(names[weekday * 3])
        out.append(names[weekday * 3 + 1])
        out.append(names[weekday * 3 + 2])
        out.append(UInt8(ascii: ","))
        out.append(ASCII.sp)
        appendTwoDigits(day, to: &out)
        out.append(ASCII.sp)
        let months = monthNames.utf8Start
        out.append(months[(month - 1) * 3])
        out.append(months[(month - 1) * 3 + 1])
        out.append(months[(month - 1) * 3 + 2])
        out.append(ASCII.sp)
        appendTwoDigits(year / 100, to: &out)
        appendTwoDigits(year % 100, to: &out)
        out.append(ASCII.sp)
        appendTwoDigits(secondOfDay / 3600, to: &out)
        out.append(ASCII.colon)
        appendTwoDigits(secondOfDay / 60 % 60, to: &out)
        out.append(ASCII.colon)
        appendTwoDigits(secondOfDay % 60, to: &out)
        out.append(contentsOf: " GMT".utf8)
    }

    /// The IMF-fixdate for `seconds` since the epoch, as a String (allocates; for cold paths).
    public static func format(_ seconds: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        append(seconds, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Seconds since the epoch for an IMF-fixdate, RFC 850 or asctime date, or nil.
    public static func parse(_ text: some Collection<UInt8>) -> Int? {
        if let result = text.withContiguousStorageIfAvailable({ parse(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(text).withUnsafeBytes { parse($0) }
    }

    /// Seconds since the epoch for an IMF-fixdate, RFC 850 or asctime date, or nil.
    public static func parse(_ b: UnsafeRawBufferPointer) -> Int? {
        if b.count == 29 && b[3] == UInt8(ascii: ",") {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            guard shortDayName(b, 0), b[4] == ASCII.sp, b[7] == ASCII.sp, b[11] == ASCII.sp, b[16] == ASCII.sp,
                b.slice(25..<29).elementsEqual(" GMT".utf8),
                let day = number(b, 5, 2), let month = monthNumber(b, 8), let year = number(b, 12, 4)
            else { return nil }
            return assemble(year: year, month: month, day: day, time: b, at: 17)
        }
        if b.count == 24 && b[3] == ASCII.sp {
            // asctime: Sun Nov  6 08:49:37 1994
            guard shortDayName(b, 0), b[7] == ASCII.sp, b[10] == ASCII.sp, b[19] == ASCII.sp,
                let month = monthNumber(b, 4), let year = number(b, 20, 4)
            else { return nil }
            let day: Int?
            if b[8] == ASCII.sp { day = number(b, 9, 1) } else { day = number(b, 8, 2) }
            guard let day else { return nil }
            return assemble(year: year, month: month, day: day, time: b, at: 11)
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        guard let comma = ASCII.find(UInt8(ascii: ","), in: b, from: 0), b.count == comma + 24,
            longDayNames.contains(where: { b.slice(0..<comma).elementsEqual(UnsafeBufferPointer(start: $0.utf8Start, count: $0.utf8CodeUnitCount)) }),
            b[comma + 1] == ASCII.sp, b[comma + 4] == UInt8(ascii: "-"), b[comma + 8] == UInt8(ascii: "-"),
            b[comma + 11] == ASCII.sp, b.slice((comma + 20)..<(comma + 24)).elementsEqual(" GMT".utf8),
            let day = number(b, comma + 2, 2), let month = monthNumber(b, comma + 5), let shortYear = number(b, comma + 9, 2)
        else { return nil }
        return assemble(year: shortYear < 70 ? 2000 + shortYear : 1900 + shortYear, month: month, day: day, time: b, at: comma + 12)
    }

    // MARK: calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms)

    /// (year, month 1–12, day 1–31) for a day count since 1970-01-01 (non-negative).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 for a date in year 0 or later.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: pieces

    @inline(__always) private static func appendTwoDigits(_ value: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: 0x30 + value / 10))
        out.append(UInt8(truncatingIfNeeded: 0x30 + value % 10))
    }

    /// `HH:MM:SS` at `at`, then the date checked and converted.
    private static func assemble(year: Int, month: Int, day: Int, time b: UnsafeRawBufferPointer, at i: Int) -> Int? {
        guard b[i + 2] == ASCII.colon, b[i + 5] == ASCII.colon,
            let hour = number(b, i, 2), let minute = number(b, i + 3, 2), let second = number(b, i + 6, 2),
            hour < 24, minute < 60, second <= 60, day >= 1, day <= daysInMonth(month, year: year)
        else { return nil }
        return days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    private static func number(_ b: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Int? {
        var value = 0
        for i in start..<(start + count) {
            guard ASCII.isDigit(b[i]) else { return nil }
            value = value * 10 + Int(b[i] - 0x30)
        }
        return value
    }

    private static func monthNumber(_ b: UnsafeRawBufferPointer, _ at: Int) -> Int? {
        let names = monthNames.utf8Start
        for month in 0..<12 where names[month * 3] == b[at] && names[month * 3 + 1] == b[at + 1] && names[month * 3 + 2] == b[at + 2] {
            return month + 1
        }
        return nil
    }

    private static func shortDayName(_ b: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        let names = dayNames.utf8Start
        for day in 0..<7 where names[day * 3] == b[at] && names[day * 3 + 1] == b[at + 1] && names[day * 3 + 2] == b[at + 2] {
            return true
        }
        return false
    }
}
