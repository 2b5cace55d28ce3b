import BlipData
import Glibc
import Testing

@Suite struct TarRoundTripTests {
    let folder = makeTemporaryFolder()

    @Test func writtenMembersReadBackIdentically() throws {
        let path = folder + "/00000.tar"
        let members = [
            TarMember(name: "000000000.jpg", mtime: 1_700_000_000, bytes: (0..<3000).map { UInt8($0 % 251) }),
            TarMember(name: "000000000.txt", mtime: 1_700_000_000, bytes: Array("a dog on a beach".utf8)),
            TarMember(name: "000000000.json", mtime: 5, bytes: []),
            // past ustar's 100-byte name field and non-ASCII: pax headers must carry them
            TarMember(name: String(repeating: "d/", count: 60) + "ключ.txt", mtime: 7, bytes: Array("x".utf8)),
        ]
        let writer = try TarWriter(path: path)
        for m in members { try writer.add(name: m.name, bytes: m.bytes, mtime: m.mtime) }
        #expect(access(path, F_OK) != 0, "nothing is visible under the final name before commit")
        try writer.commit()

        let reader = try TarReader(path: path)
        var read: [TarMember] = []
        while let entry = reader.next() {
            guard case .member(let m) = entry else { Issue.record("unexpected \(entry)"); break }
            read.append(m)
        }
        #expect(read == members)
    }

    @Test func sameMembersGiveTheSameBytes() throws {
        func write(_ name: String) throws -> [UInt8] {
            let w = try TarWriter(path: folder + "/" + name)
            try w.add(name: "k.txt", bytes: Array("hello".utf8), mtime: 42)
            try w.commit()
            return try readAll(folder + "/" + name)
        }
        #expect(try write("a.tar") == write("b.tar"))
    }

    @Test func anAbandonedWriterLeavesNothing() throws {
        do {
            let w = try TarWriter(path: folder + "/gone.tar")
            try w.add(name: "k.txt", bytes: Array("hello".utf8), mtime: 0)
        }
        #expect(listFolder(folder).allSatisfy { !$0.hasPrefix("gone.tar") })
    }

    @Test func aTruncatedMemberIsReportedWithItsName() throws {
        let path = folder + "/cut.tar"
        let w = try TarWriter(path: path)
        try w.add(name: "a.txt", bytes: Array("first".utf8), mtime: 0)
        try w.add(name: "b.jpg", bytes: [UInt8](repeating: 7, count: 5000), mtime: 0)
        try w.commit()
        let bytes = try readAll(path)
        try writeAll(path, Array(bytes[0..<(512 + 512 + 512 + 2000)]))  // into b.jpg's data
        let reader = try TarReader(path: path)
        guard case .member(let first)? = reader.next() else { Issue.record("first member unreadable"); return }
        #expect(first.name == "a.txt")
        guard case .damaged(let name, _, let recoverable)? = reader.next() else { Issue.record("truncation not reported"); return }
        #expect(name == "b.jpg")
        #expect(!recoverable)
        #expect(reader.next() == nil)
    }

    @Test func membersAboveTheLimitAreSkippedUnread() throws {
        let path = folder + "/big.tar"
        let w = try TarWriter(path: path)
        try w.add(name: "a.png", bytes: [UInt8](repeating: 1, count: 4096), mtime: 0)
        try w.add(name: "a.txt", bytes: Array("ok".utf8), mtime: 0)
        try w.commit()
        let reader = try TarReader(path: path, maxMemberBytes: 1000)
        guard case .damaged(let name, _, true)? = reader.next() else { Issue.record("large member not refused"); return }
        #expect(name == "a.png")
        guard case .member(let m)? = reader.next() else { Issue.record("reading did not continue"); return }
        #expect(m.name == "a.txt")
    }

    @Test func webDatasetSamplesGroupConsecutiveMembersByKey() throws {
        #expect(WebDatasetReader.split("000012.seg.png") == ("000012", "seg.png"))
        #expect(WebDatasetReader.split("a.b/x.jpg") == ("a.b/x", "jpg"))
        #expect(WebDatasetReader.split("noext") == ("noext", ""))
        let path = folder + "/wds.tar"
        let w = try TarWriter(path: path)
        for (name, text) in [("1.jpg", "i"), ("1.txt", "t"), ("2.txt", "u"), ("2.txt", "again"), ("3.png", "p")] {
            try w.add(name: name, bytes: Array(text.utf8), mtime: 0)
        }
        try w.commit()
        let reader = try WebDatasetReader(path: path, maxMemberBytes: 1 << 20)
        var samples: [WebDatasetSample] = []
        while let s = reader.next() { samples.append(s) }
        #expect(samples.map(\.key) == ["1", "2", "3"])
        #expect(samples[0].files.keys.sorted() == ["jpg", "txt"])
        #expect(samples[1].problems == ["2.txt appears twice"])
        #expect(samples[2].files["png"]?.bytes == Array("p".utf8))
    }
}
