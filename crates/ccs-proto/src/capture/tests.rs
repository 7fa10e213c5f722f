//! Round trips, both byte orders, resolutions, snap lengths, truncation and garbage.

use super::*;

fn frame(n: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| n.wrapping_add(i as u8)).collect()
}

#[test]
fn pcap_round_trip_micro_and_nano() {
    for (res, ts) in [
        (
            TimestampResolution::Micro,
            Timestamp::from_micros(1_684_953_249_046_679),
        ),
        (
            TimestampResolution::Nano,
            Timestamp::from_nanos(1_684_953_249_046_679_123),
        ),
    ] {
        let mut file = Vec::new();
        let mut w = PcapWriter::new(&mut file, LinkType::Ethernet, 100, res).unwrap();
        w.write_packet(ts, &frame(1, 60)).unwrap();
        w.write_packet(ts, &frame(2, 150)).unwrap();
        let packets: Vec<_> = CaptureReader::new(&file)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].timestamp, ts);
        assert_eq!(packets[0].data, &frame(1, 60)[..]);
        // The snap length cut the second packet, the original length survives.
        assert_eq!(packets[1].data.len(), 100);
        assert_eq!(packets[1].original_len, 150);
        assert!(packets[1].is_truncated());
    }
}

#[test]
fn pcapng_round_trip_with_comments_and_two_interfaces() {
    let mut file = Vec::new();
    let section = SectionInfo {
        application: Some("ccsplc test".to_owned()),
        comment: Some("session 1".to_owned()),
        ..SectionInfo::default()
    };
    let mut w = PcapngWriter::new(&mut file, &section).unwrap();
    let eth = w.add_interface(&Interface::ethernet("eth1")).unwrap();
    let log = w
        .add_interface(&Interface {
            link_type: LinkType::User0,
            name: Some("log".to_owned()),
            description: None,
            snap_len: 0,
        })
        .unwrap();
    let t0 = Timestamp::from_nanos(1_700_000_000_123_456_789);
    w.write_packet(eth, t0, &frame(9, 61), None).unwrap();
    w.write_packet(log, t0, &[], Some("[5ms] checkpoint 100 SLAC_PARAM.REQ"))
        .unwrap();
    w.write_packet(
        eth,
        Timestamp::from_nanos(t0.0 + 1),
        &frame(3, 3),
        Some("ä"),
    )
    .unwrap();
    assert!(
        w.write_packet(InterfaceId(7), t0, &[], None).is_err(),
        "unknown interface"
    );
    let mut r = CaptureReader::new(&file).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcapng);
    let packets: Vec<_> = r.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(r.section_comments(), &["session 1".to_owned()]);
    assert_eq!(r.interfaces().len(), 2);
    assert_eq!(r.interfaces()[0].name.as_deref(), Some("eth1"));
    assert_eq!(packets.len(), 3);
    assert_eq!(packets[0].timestamp, t0);
    assert_eq!(packets[0].data, &frame(9, 61)[..]);
    assert_eq!(packets[1].interface, 1);
    assert_eq!(packets[1].link_type, LinkType::User0);
    assert_eq!(
        packets[1].comments,
        vec!["[5ms] checkpoint 100 SLAC_PARAM.REQ".to_owned()]
    );
    assert_eq!(packets[2].comments, vec!["ä".to_owned()]);
    assert_eq!(packets[2].data, &[3, 4, 5]);
}

/// A big-endian pcap written by hand (as a SPARC or some embedded tcpdump would).
#[test]
fn big_endian_pcap() {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_be_bytes());
    f.extend_from_slice(&2u16.to_be_bytes());
    f.extend_from_slice(&4u16.to_be_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_be_bytes());
    f.extend_from_slice(&1u32.to_be_bytes());
    for v in [10u32, 500_000, 4, 4] {
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[1, 2, 3, 4]);
    let packets: Vec<_> = CaptureReader::new(&f)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(packets[0].timestamp, Timestamp::from_micros(10_500_000));
    assert_eq!(packets[0].data, &[1, 2, 3, 4]);
    assert_eq!(packets[0].link_type, LinkType::Ethernet);
}

/// A big-endian pcapng section with `if_tsresol` = 2^-10 and a simple packet block.
#[test]
fn big_endian_pcapng_with_binary_resolution() {
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (body.len() + 12) as u32;
        let mut b = kind.to_be_bytes().to_vec();
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_be_bytes());
        b
    }
    let mut shb = 0x1a2b_3c4du32.to_be_bytes().to_vec();
    shb.extend_from_slice(&[0, 1, 0, 0]);
    shb.extend_from_slice(&[0xff; 8]);
    let mut idb = vec![0, 1, 0, 0, 0, 0, 0, 0];
    idb.extend_from_slice(&[0, 9, 0, 1, 0x8a, 0, 0, 0, 0, 0, 0, 0]);
    let mut epb = Vec::new();
    for v in [0u32, 0, 2048, 2, 2] {
        epb.extend_from_slice(&v.to_be_bytes());
    }
    epb.extend_from_slice(&[0xab, 0xcd, 0, 0]);
    let mut spb = 3u32.to_be_bytes().to_vec();
    spb.extend_from_slice(&[7, 8, 9, 0]);
    let mut file = block(0x0a0d_0d0a, &shb);
    file.extend(block(1, &idb));
    file.extend(block(6, &epb));
    file.extend(block(3, &spb));
    file.extend(block(0x0bad, &[0; 4])); // an unknown block is skipped
    let packets: Vec<_> = CaptureReader::new(&file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(packets.len(), 2);
    // 2048 units of 2^-10 s = 2 s.
    assert_eq!(packets[0].timestamp, Timestamp::from_nanos(2_000_000_000));
    assert_eq!(packets[0].data, &[0xab, 0xcd]);
    assert_eq!(packets[1].data, &[7, 8, 9]);
}

#[test]
fn truncated_last_record_gives_the_good_packets_then_an_error() {
    let mut file = Vec::new();
    let mut w = PcapWriter::new(
        &mut file,
        LinkType::Ethernet,
        65535,
        TimestampResolution::Micro,
    )
    .unwrap();
    w.write_packet(Timestamp(0), &frame(0, 60)).unwrap();
    w.write_packet(Timestamp(0), &frame(0, 60)).unwrap();
    file.truncate(file.len() - 10);
    let results: Vec<_> = CaptureReader::new(&file).unwrap().collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(CaptureError::Truncated { .. })));

    let mut ng = Vec::new();
    let mut w = PcapngWriter::new(&mut ng, &SectionInfo::default()).unwrap();
    let eth = w.add_interface(&Interface::ethernet("eth0")).unwrap();
    w.write_packet(eth, Timestamp(5), &frame(0, 60), None)
        .unwrap();
    w.write_packet(eth, Timestamp(6), &frame(0, 60), None)
        .unwrap();
    for cut in 1..40 {
        let results: Vec<_> = CaptureReader::new(&ng[..ng.len() - cut]).unwrap().collect();
        assert_eq!(results.len(), 2, "cut {cut}");
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
    }
}

#[test]
fn garbage_gives_typed_errors_and_never_panics() {
    assert!(matches!(
        CaptureReader::new(b"hello world"),
        Err(CaptureError::UnknownFormat { .. })
    ));
    assert!(matches!(
        CaptureReader::new(&[]),
        Err(CaptureError::UnknownFormat { .. })
    ));
    assert!(matches!(
        CaptureReader::new(&0xa1b2_c3d4u32.to_le_bytes()),
        Err(CaptureError::Truncated { .. })
    ));
    let mut bad_version = Vec::new();
    PcapWriter::new(
        &mut bad_version,
        LinkType::Ethernet,
        10,
        TimestampResolution::Micro,
    )
    .unwrap();
    bad_version[4] = 9;
    assert!(matches!(
        CaptureReader::new(&bad_version),
        Err(CaptureError::UnsupportedVersion { .. })
    ));
    // Deterministic pseudo-random corruption of a valid pcapng: every byte flipped in turn.
    let mut ng = Vec::new();
    let mut w = PcapngWriter::new(&mut ng, &SectionInfo::default()).unwrap();
    let eth = w.add_interface(&Interface::ethernet("eth0")).unwrap();
    w.write_packet(eth, Timestamp(5), &frame(0, 30), Some("c"))
        .unwrap();
    for i in 0..ng.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut c = ng.clone();
            c[i] ^= x;
            if let Ok(r) = CaptureReader::new(&c) {
                for p in r {
                    let _ = p;
                }
            }
        }
    }
}

#[test]
fn linux_cooked_capture_becomes_ethernet() {
    let mut sll = vec![0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 0x88, 0xe1];
    sll.extend_from_slice(&[0x01, 0x64, 0x60]);
    let eth = ethernet_from_sll(&sll).unwrap();
    assert_eq!(&eth[..6], &[0xff; 6]);
    assert_eq!(&eth[6..12], &[2, 0, 0, 0, 0, 9]);
    assert_eq!(&eth[12..14], &[0x88, 0xe1]);
    assert_eq!(&eth[14..], &[0x01, 0x64, 0x60]);
    assert!(ethernet_from_sll(&sll[..10]).is_none());
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 7, 0, 0,
    ];
    sll2.push(0x60);
    let eth = ethernet_from_sll2(&sll2).unwrap();
    assert_eq!(&eth[6..12], &[2, 0, 0, 0, 0, 7]);
    assert_eq!(&eth[12..], &[0x86, 0xdd, 0x60]);
}

/// A writer that fails after `ok` writes, like a disk that fills up.
struct FullDisk {
    ok: usize,
    data: Vec<u8>,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("No space left on device"));
        }
        self.ok -= 1;
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn session_recorder_survives_a_full_disk() {
    let config = RecorderConfig::default();
    let mut rec = SessionRecorder::new(
        FullDisk {
            ok: 5,
            data: Vec::new(),
        },
        &config,
    );
    for i in 0..10u64 {
        rec.record_frame(Timestamp(i), &frame(0, 60));
        rec.record_log(Timestamp(i), "line");
    }
    let health = rec.health().clone();
    assert_eq!(health.written, 2, "SHB + 2 IDB + 2 packets fit");
    assert_eq!(health.dropped, 18);
    assert_eq!(rec.take_error().as_deref(), Some("No space left on device"));
    assert_eq!(rec.take_error(), None, "reported once");
    assert!(!rec.is_recording());
    assert!(rec.finish().is_none());
}

#[test]
fn session_recorder_writes_frames_and_log_lines() {
    for style in [LogStyle::Comment, LogStyle::Syslog] {
        let config = RecorderConfig {
            log_style: style,
            ..RecorderConfig::default()
        };
        let mut rec = SessionRecorder::new(Vec::new(), &config);
        rec.record_frame(Timestamp(1), &frame(0, 60));
        rec.record_log(Timestamp(2), "[2ms] hello");
        let file = rec.finish().unwrap();
        let packets: Vec<_> = CaptureReader::new(&file)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[1].comments, vec!["[2ms] hello".to_owned()]);
        match style {
            LogStyle::Comment => assert!(packets[1].data.is_empty()),
            _ => assert!(packets[1].data.ends_with(b"<15>[2ms] hello\0")),
        }
    }
}

#[test]
fn tls_secrets_and_decrypted_messages_are_recorded_and_hoisted_before_the_packets() {
    let mut rec = SessionRecorder::new(Vec::new(), &RecorderConfig::default());
    rec.record_frame(Timestamp(1), &frame(0, 60));
    assert!(!rec.wrote_secrets());
    rec.record_tls_secrets("CLIENT_RANDOM 00 11\n");
    assert!(rec.wrote_secrets());
    let pdu = UpperPdu {
        dissector: V2GTP_DISSECTOR.to_owned(),
        src: Some("fe80::1".parse().unwrap()),
        dst: Some("fe80::2".parse().unwrap()),
        src_port: Some(50_000),
        dst_port: Some(15_118),
        ..UpperPdu::default()
    };
    let message = [0x01, 0xfe, 0x80, 0x01, 0, 0, 0, 1, 0x80];
    rec.record_decrypted(Timestamp(3), &pdu, &message);
    rec.record_decrypted(Timestamp(4), &pdu, &message);
    let file = rec.finish().unwrap();

    let read = |bytes: &[u8]| {
        let mut reader = CaptureReader::new(bytes).unwrap();
        let mut seen = Vec::new();
        while let Some(p) = reader.next() {
            let p = p.unwrap();
            // How many secrets blocks were read before this packet.
            seen.push((p.link_type, reader.decryption_secrets().len()));
        }
        (seen, reader.decryption_secrets().to_vec())
    };
    let (seen, secrets) = read(&file);
    assert_eq!(
        seen,
        [
            (LinkType::Ethernet, 0),
            (LinkType::WiresharkUpperPdu, 1),
            (LinkType::WiresharkUpperPdu, 1)
        ]
    );
    assert_eq!(secrets[0].secrets_type, SECRETS_TYPE_TLS_KEY_LOG);
    assert_eq!(secrets[0].data, b"CLIENT_RANDOM 00 11\n");
    assert!(!format!("{:?}", secrets[0]).contains("CLIENT_RANDOM"));
    let packets: Vec<_> = CaptureReader::new(&file).unwrap().flatten().collect();
    let (back, v2gtp) = UpperPdu::parse(packets[1].data).unwrap();
    assert_eq!((back, v2gtp), (pdu, &message[..]));

    // Hoisted: the same packets, every one after the secrets.
    let hoisted = hoist_decryption_secrets(&file).unwrap();
    assert_eq!(hoisted.len(), file.len());
    let (seen, secrets_after) = read(&hoisted);
    assert!(seen.iter().all(|(_, n)| *n == 1), "{seen:?}");
    assert_eq!(secrets_after, secrets);
    // Nothing to move, or not pcapng: nothing done.
    assert!(hoist_decryption_secrets(&hoisted[..hoisted.len() - 4]).is_none());
    let plain = SessionRecorder::new(Vec::new(), &RecorderConfig::default()).finish();
    assert!(hoist_decryption_secrets(&plain.unwrap()).is_none());
}

#[test]
fn every_shared_capture_reads_to_the_end() {
    let dir = ccs_testdata::shared_path("captures");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.to_string_lossy().into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let reader = CaptureReader::new(&bytes).unwrap();
        let mut n = 0;
        for p in reader {
            let p = p.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(p.ethernet().is_some(), "{name}: link type {}", p.link_type);
            n += 1;
        }
        assert!(n > 0, "{name}");
        files += 1;
    }
    assert!(files >= 30, "found {files} captures in {}", dir.display());
}

mod arbitrary {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary bytes, and valid files with arbitrary corruption, never panic the reader.
        #[test]
        fn never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            use_ng in any::<bool>(),
        ) {
            let mut file = Vec::new();
            if use_ng {
                let mut w = PcapngWriter::new(&mut file, &SectionInfo::default()).unwrap();
                let eth = w.add_interface(&Interface::ethernet("x")).unwrap();
                w.write_packet(eth, Timestamp(1), &bytes, Some("c")).unwrap();
            } else {
                let mut w = PcapWriter::new(
                    &mut file, LinkType::Ethernet, 100, TimestampResolution::Nano,
                ).unwrap();
                w.write_packet(Timestamp(1), &bytes).unwrap();
            }
            // The whole file, then its tail spliced with the random bytes.
            for candidate in [file.clone(), [&file[..file.len() / 2], &bytes[..]].concat(), bytes.clone()] {
                if let Ok(r) = CaptureReader::new(&candidate) {
                    for p in r.take(1000).flatten() {
                        let _ = p.ethernet();
                    }
                }
            }
        }

        /// Whatever is written comes back.
        #[test]
        fn round_trip(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
            comment in "[a-zA-Z0-9 äö]{0,40}",
        ) {
            let mut file = Vec::new();
            let mut w = PcapngWriter::new(&mut file, &SectionInfo::default()).unwrap();
            let eth = w.add_interface(&Interface::ethernet("eth0")).unwrap();
            for (n, f) in frames.iter().enumerate() {
                w.write_packet(eth, Timestamp(n as u64 * 1_000_000_007), f, Some(&comment)).unwrap();
            }
            let back: Vec<_> = CaptureReader::new(&file).unwrap().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(back.len(), frames.len());
            for (n, (p, f)) in back.iter().zip(&frames).enumerate() {
                prop_assert_eq!(p.data, &f[..]);
                prop_assert_eq!(p.timestamp, Timestamp(n as u64 * 1_000_000_007));
                prop_assert_eq!(&p.comments, &vec![comment.clone()]);
            }
        }
    }
}
